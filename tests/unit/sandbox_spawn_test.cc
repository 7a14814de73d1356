// Which network namespace a sandbox's plan asks for, and clone_sandbox's refusal to start a
// sandbox that expects one from its parent when it is given none: without CLONE_NEWNET the child
// would share the runner's, the host's. The refusal comes before any clone, so no root is needed.

#include <gtest/gtest.h>
#include <sched.h>

#include "backends/native/sandbox_spawn.h"

namespace isol8 {
namespace {

std::unique_ptr<SpawnPlan> plan_for(NetworkMode network, bool netns_from_parent,
                                    bool report_mounted = false) {
  RunSpec spec;
  spec.argv = {"/bin/true"};
  spec.network = network;
  SpawnExtras extras;
  extras.netns_from_parent = netns_from_parent;
  extras.report_mounted = report_mounted;
  auto plan = SpawnPlan::create(spec, NativeSettings{}, nullptr, extras);
  EXPECT_TRUE(plan) << plan.error().message;
  return plan ? std::move(plan).value() : nullptr;
}

TEST(SandboxSpawn, ANamespaceOfItsOwnUnlessTheParentPreparesOneOrTheHostsIsWanted) {
  auto own = plan_for(NetworkMode::kNone, false);
  ASSERT_TRUE(own);
  EXPECT_NE(own->clone_flags() & CLONE_NEWNET, 0u);
  EXPECT_FALSE(own->needs_parent_netns());

  auto prepared = plan_for(NetworkMode::kNone, true);
  ASSERT_TRUE(prepared);
  EXPECT_EQ(prepared->clone_flags() & CLONE_NEWNET, 0u);
  EXPECT_TRUE(prepared->needs_parent_netns());

  auto host = plan_for(NetworkMode::kHost, false);
  ASSERT_TRUE(host);
  EXPECT_EQ(host->clone_flags() & CLONE_NEWNET, 0u);
  EXPECT_FALSE(host->needs_parent_netns());
}

// Init reports its root built only to a runner that waits for it (one holding a namespace slot):
// for every other run the message and the runner's wakeup would be work for nothing.
TEST(SandboxSpawn, InitReportsItsRootBuiltOnlyWhenAsked) {
  auto quiet = plan_for(NetworkMode::kNone, false);
  ASSERT_TRUE(quiet);
  EXPECT_FALSE(quiet->child().report_mounted);
  auto asked = plan_for(NetworkMode::kNone, true, true);
  ASSERT_TRUE(asked);
  EXPECT_TRUE(asked->child().report_mounted);
}

TEST(SandboxSpawn, APlanWaitingForItsParentsNamespaceIsRefusedWithoutOne) {
  auto plan = plan_for(NetworkMode::kNone, true);
  ASSERT_TRUE(plan);
  auto pipes = RunPipes::create(false);
  ASSERT_TRUE(pipes) << pipes.error().message;
  pipes->give_child_ends(plan->child());
  auto sandbox = clone_sandbox(*plan, *pipes, -1, -1);
  ASSERT_FALSE(sandbox) << "a sandbox was started without its network namespace";
  EXPECT_NE(sandbox.error().message.find("refusing to run it in the host's"), std::string::npos)
      << sandbox.error().message;
}

}  // namespace
}  // namespace isol8
