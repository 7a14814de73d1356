// What a persistent session is on the docker backend in particular (backends/docker/session.h):
// no root process and no capability in its container, its labels, what a background process
// that left the execution's session gets at a timeout, and the filtered network's relay, which
// serves every execution and is out of the sandbox user's reach. The behaviour every backend
// shares is in integration/behaviour/sessions_test.cc and session_files_test.cc.

#include <gtest/gtest.h>
#include <stdlib.h>

#include "backends/docker/client.h"
#include "isol8/engine.h"
#include "support/test_support.h"

namespace isol8::test {
namespace {

class DockerSession : public ::testing::Test {
 protected:
  void SetUp() override {
    ISOL8_REQUIRE_DOCKER();
    containers_before_ = isol8_container_count();
  }
  void TearDown() override {
    EXPECT_EQ(isol8_container_count(), containers_before_) << "isol8 containers left";
  }

  static std::unique_ptr<Engine> engine(NetworkMode network = NetworkMode::kNone) {
    Options o;
    o.backend = BackendKind::kDocker;
    o.mode = EngineMode::kPersistent;
    o.network = network;
    auto e = Engine::create(o);
    EXPECT_TRUE(e) << e.error().message;
    return e ? std::move(*e) : nullptr;
  }

  static ExecutionResult run(Engine& e, const std::string& cmd, int64_t timeout_ms = 30000) {
    ExecutionRequest r = bash_request(cmd);
    r.timeout_ms = timeout_ms;
    auto result = e.execute(r);
    EXPECT_TRUE(result) << result.error().message;
    return result ? *result : ExecutionResult{};
  }

  long containers_before_ = 0;
};

TEST_F(DockerSession, NoProcessIsRootAndExecutionsHaveNoCapability) {
  auto e = engine();
  ASSERT_TRUE(e);
  auto r = run(*e,
               "for p in /proc/[0-9]*; do stat -c %u $p; done | sort -un | tr '\\n' ' '; "
               "grep -E '^Cap(Eff|Prm|Bnd)' /proc/self/status | tr -s '\\t' ' '; id -u");
  EXPECT_EQ(r.stdout_data,
            "100 65534 CapPrm: 0000000000000000\nCapEff: 0000000000000000\n"
            "CapBnd: 0000000000000000\n100")
      << describe(r);
  // The sandbox user cannot end the session: pid 1 and the idle process are nobody's.
  auto kill_all = run(*e, "kill -9 -1; kill -9 1 2>&1; echo survived");
  EXPECT_TRUE(contains(kill_all.stdout_data, "Operation not permitted")) << describe(kill_all);
  auto next = run(*e, "echo still here");
  EXPECT_EQ(next.stdout_data, "still here") << describe(next);
}

TEST_F(DockerSession, TheContainerCarriesTheSessionAndOwnerLabels) {
  auto e = engine();
  ASSERT_TRUE(e);
  auto r = run(*e, "true");
  auto client = docker::DockerClient::from_environment();
  ASSERT_TRUE(client);
  auto inspected = (*client)->inspect_container(r.container_id);
  ASSERT_TRUE(inspected) << inspected.error().message;
  const auto& labels = (*inspected)["Config"]["Labels"];
  EXPECT_EQ(labels.value("isol8.session", ""), "true");
  EXPECT_EQ(labels.value("isol8.managed", ""), "true");
  EXPECT_EQ(labels.value("isol8.runtime", ""), "bash");
  EXPECT_FALSE(labels.value("isol8.owner", "").empty());
  EXPECT_TRUE((*inspected)["HostConfig"]["ReadonlyRootfs"].get<bool>());
  // The first request's environment is not the container's.
  for (const auto& var : (*inspected)["Config"]["Env"]) {
    EXPECT_FALSE(var.get<std::string>().starts_with("HOME=/sandbox")) << var;
  }
  e->stop();
  auto gone = (*client)->inspect_container(r.container_id);
  EXPECT_FALSE(gone) << "the session's container is still there after stop()";
}

TEST_F(DockerSession, ATimeoutKillsTheExecutionsSessionButNotAProcessThatLeftIt) {
  auto e = engine();
  ASSERT_TRUE(e);
  auto t = run(*e,
               "sleep 601 </dev/null >/dev/null 2>&1 & "
               "setsid sleep 602 </dev/null >/dev/null 2>&1 & sleep 603",
               1000);
  EXPECT_EQ(t.status, RunStatus::kTimeout) << describe(t);
  auto left = run(*e,
                  "for c in /proc/[0-9]*/cmdline; do tr '\\0' ' ' < $c; echo; done 2>/dev/null "
                  "| grep '^sleep 60' | sort");
  EXPECT_EQ(left.stdout_data, "sleep 602") << describe(left);
}

TEST_F(DockerSession, TheFilteredRelayServesEveryExecutionAndSurvivesTheSandboxUser) {
  ::setenv("ISOL8_RELAY", kRelayBinary, 1);
  auto e = engine(NetworkMode::kFiltered);
  ASSERT_TRUE(e);
  const std::string probe =
      "(exec 3<>/dev/tcp/127.0.0.1/8118) 2>/dev/null && echo open || echo closed";
  EXPECT_EQ(run(*e, probe).stdout_data, "open");
  auto killer = run(*e, "kill -9 -1; echo done");
  EXPECT_EQ(killer.stdout_data, "done") << describe(killer);
  EXPECT_EQ(run(*e, probe).stdout_data, "open");
}

}  // namespace
}  // namespace isol8::test
