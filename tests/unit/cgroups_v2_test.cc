// The cgroup v2 manager against a temp-directory imitation of cgroupfs.

#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>

#include "cgroups/cgroup_manager.h"
#include "fakes/fake_cgroupfs.h"
#include "support/files.h"
#include "support/host_state.h"

namespace isol8 {
namespace {

namespace fs = std::filesystem;
using testing::FakeCgroupFs;

using test::impossible_pid;

class CgroupV2 : public ::testing::Test {
 protected:
  void SetUp() override {
    mount_ = fake_.add_v2();
    manager_ = detect_cgroup_manager(fake_.roots());
    ASSERT_STREQ(manager_->kind(), "v2");
  }
  fs::path dir_of(const std::string& name) {
    return mount_ / "isol8" / ("isol8-" + std::to_string(::getpid()) + "-" + name);
  }

  FakeCgroupFs fake_;
  fs::path mount_;
  std::unique_ptr<CgroupManager> manager_;
};

TEST_F(CgroupV2, WritesLimitsInTheRightFiles) {
  auto cg = manager_->create("sb1", {512ull << 20, 64, 1.5});
  ASSERT_TRUE(cg) << cg.error().message;
  fs::path dir = dir_of("sb1");
  EXPECT_EQ((*cg)->name(), dir.filename().string());
  EXPECT_EQ((*cg)->directories(), std::vector<fs::path>{dir});
  EXPECT_EQ(test::slurp_trimmed(dir / "memory.max"), "536870912");
  EXPECT_EQ(test::slurp_trimmed(dir / "memory.swap.max"), "0");
  EXPECT_EQ(test::slurp_trimmed(dir / "memory.oom.group"), "1");
  EXPECT_EQ(test::slurp_trimmed(dir / "pids.max"), "64");
  EXPECT_EQ(test::slurp_trimmed(dir / "cpu.max"), "150000 100000");
  EXPECT_EQ((*cg)->enforced(), (std::vector<std::string>{"memory", "pids", "cpu"}));
  // The controllers are enabled for the children of the root and of the isol8 parent.
  EXPECT_EQ(test::slurp_trimmed(mount_ / "cgroup.subtree_control"), "+memory +pids +cpu");
  EXPECT_EQ(test::slurp_trimmed(mount_ / "isol8" / "cgroup.subtree_control"), "+memory +pids +cpu");
  EXPECT_GE((*cg)->clone_into_fd(), 0);
  cg->reset();
  EXPECT_FALSE(fs::exists(dir));
  EXPECT_TRUE(fs::exists(mount_ / "isol8"));  // the shared parent stays
}

TEST_F(CgroupV2, EnabledControllersAreNotRewritten) {
  FakeCgroupFs::write(mount_ / "cgroup.subtree_control", "cpu memory pids\n");
  auto cg = manager_->create("sb1", {1 << 20, 0, 0});
  ASSERT_TRUE(cg) << cg.error().message;
  EXPECT_EQ(test::slurp_trimmed(mount_ / "cgroup.subtree_control"), "cpu memory pids");
}

TEST_F(CgroupV2, ZeroLimitsAreNotApplied) {
  auto cg = manager_->create("sb1", {0, 0, 0});
  ASSERT_TRUE(cg) << cg.error().message;
  EXPECT_TRUE((*cg)->enforced().empty());
  EXPECT_EQ(test::slurp_trimmed(dir_of("sb1") / "memory.max"), "max");
  EXPECT_EQ(test::slurp_trimmed(dir_of("sb1") / "cpu.max"), "max 100000");
}

TEST_F(CgroupV2, MissingSwapFileIsSkipped) {
  fake_.template_of(mount_).erase("memory.swap.max");
  auto cg = manager_->create("sb1", {64 << 20, 0, 0});
  ASSERT_TRUE(cg) << cg.error().message;
  EXPECT_EQ(test::slurp_trimmed(dir_of("sb1") / "memory.max"), "67108864");
  EXPECT_FALSE(fs::exists(dir_of("sb1") / "memory.swap.max"));
}

TEST_F(CgroupV2, UsageReadsPeakCpuAndOomKill) {
  auto cg = manager_->create("sb1", {64 << 20, 16, 1});
  ASSERT_TRUE(cg) << cg.error().message;
  fs::path dir = dir_of("sb1");
  FakeCgroupFs::write(dir / "memory.peak", "67104768\n");
  FakeCgroupFs::write(dir / "memory.current", "4096\n");
  FakeCgroupFs::write(dir / "cpu.stat",
                      "usage_usec 3000\nuser_usec 2000\nsystem_usec 1000\nnr_periods 3\n");
  FakeCgroupFs::write(dir / "memory.events", "low 0\nhigh 0\nmax 12\noom 1\noom_kill 1\n");
  auto u = (*cg)->usage();
  ASSERT_TRUE(u) << u.error().message;
  EXPECT_EQ(u->memory_peak_bytes, 67104768u);
  EXPECT_EQ(u->cpu_user_usec, 2000u);
  EXPECT_EQ(u->cpu_system_usec, 1000u);
  EXPECT_TRUE(u->oom_killed);
}

TEST_F(CgroupV2, UsageFallsBackToMemoryCurrent) {
  fake_.template_of(mount_).erase("memory.peak");
  auto cg = manager_->create("sb1", {});
  ASSERT_TRUE(cg) << cg.error().message;
  FakeCgroupFs::write(dir_of("sb1") / "memory.current", "8192\n");
  auto u = (*cg)->usage();
  ASSERT_TRUE(u) << u.error().message;
  EXPECT_EQ(u->memory_peak_bytes, 8192u);
  EXPECT_FALSE(u->oom_killed);
}

TEST_F(CgroupV2, AddProcessAndKillAll) {
  auto cg = manager_->create("sb1", {});
  ASSERT_TRUE(cg) << cg.error().message;
  fs::path dir = dir_of("sb1");
  pid_t fake_pid = impossible_pid();  // a regular file: nothing is moved or killed
  ASSERT_TRUE((*cg)->add_process(fake_pid));
  EXPECT_EQ(test::slurp_trimmed(dir / "cgroup.procs"), std::to_string(fake_pid));
  FakeCgroupFs::write(dir / "cgroup.procs", "");  // what the kernel shows once it has exited
  ASSERT_TRUE((*cg)->kill_all());
  EXPECT_EQ(test::slurp_trimmed(dir / "cgroup.kill"), "1");
}

TEST_F(CgroupV2, KillAllReportsAPopulatedCgroup) {
  auto cg = manager_->create("sb1", {});
  ASSERT_TRUE(cg) << cg.error().message;
  FakeCgroupFs::write(dir_of("sb1") / "cgroup.events", "populated 1\nfrozen 0\n");
  auto r = (*cg)->kill_all();
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("still populated"), std::string::npos) << r.error().message;
  FakeCgroupFs::write(dir_of("sb1") / "cgroup.events", "populated 0\n");
}

TEST_F(CgroupV2, CreateFailingHalfWayLeavesNoDirectory) {
  fake_.template_of(mount_).erase("pids.max");  // a kernel without the pids controller file
  auto cg = manager_->create("sb1", {64 << 20, 16, 1});
  ASSERT_FALSE(cg);
  EXPECT_NE(cg.error().message.find("pids.max"), std::string::npos) << cg.error().message;
  EXPECT_EQ(cg.error().code, ENOENT);
  EXPECT_FALSE(fs::exists(dir_of("sb1")));
}

TEST_F(CgroupV2, RejectsDuplicateAndInvalidNames) {
  auto first = manager_->create("sb1", {});
  ASSERT_TRUE(first) << first.error().message;
  auto second = manager_->create("sb1", {});
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error().code, EEXIST);
  EXPECT_TRUE(fs::exists(dir_of("sb1")));  // the failed create did not remove the first's
  EXPECT_FALSE(manager_->create("../x", {}));
}

TEST_F(CgroupV2, ReclaimStaleRemovesDeadOwnersOnly) {
  CgroupFsOps ops = fake_.ops();
  fs::path parent = mount_ / "isol8";
  ASSERT_EQ(ops.make_dir(parent), 0);
  fs::path dead = parent / ("isol8-" + std::to_string(impossible_pid()) + "-old");
  fs::path alive = parent / ("isol8-" + std::to_string(::getpid()) + "-mine");
  fs::path foreign = parent / "someone-else";
  for (const auto& d : {dead, alive, foreign}) ASSERT_EQ(ops.make_dir(d), 0);
  auto n = manager_->reclaim_stale();
  ASSERT_TRUE(n) << n.error().message;
  EXPECT_EQ(*n, 1u);
  EXPECT_FALSE(fs::exists(dead));
  EXPECT_TRUE(fs::exists(alive));
  EXPECT_TRUE(fs::exists(foreign));
  EXPECT_EQ(test::slurp_trimmed(dead.string() + "-never"), "");  // nothing else was created
}

// A kept sandbox's cgroup (--persist) is renamed after its init, left in place by its object,
// listed while that init lives, removed by remove_kept, and reclaimed once the init is dead.
TEST_F(CgroupV2, HandOverRenamesTheCgroupAfterItsNewOwner) {
  auto cg = manager_->create("sb1", {1 << 20, 0, 0});
  ASSERT_TRUE(cg) << cg.error().message;
  const pid_t owner = ::getppid();
  ASSERT_TRUE((*cg)->hand_over(owner));
  const std::string kept_name = "isol8-" + std::to_string(owner) + "-kept-sb1";
  EXPECT_EQ((*cg)->name(), kept_name);
  cg->reset();
  const fs::path kept = mount_ / "isol8" / kept_name;
  EXPECT_TRUE(fs::exists(kept));
  EXPECT_FALSE(fs::exists(dir_of("sb1")));
  auto reclaimed = manager_->reclaim_stale();
  ASSERT_TRUE(reclaimed) << reclaimed.error().message;
  EXPECT_EQ(*reclaimed, 0u);
  auto listed = manager_->list_kept();
  ASSERT_TRUE(listed) << listed.error().message;
  EXPECT_EQ(*listed, std::vector<std::string>{kept_name});
  ASSERT_TRUE(manager_->remove_kept(kept_name));
  EXPECT_FALSE(fs::exists(kept));
  EXPECT_FALSE(manager_->remove_kept(dir_of("sb2").filename().string()));  // not a kept one
}

TEST_F(CgroupV2, KeptCgroupOfADeadInitIsReclaimedNotListed) {
  auto cg = manager_->create("sb1", {});
  ASSERT_TRUE(cg) << cg.error().message;
  ASSERT_TRUE((*cg)->hand_over(impossible_pid()));
  cg->reset();
  auto listed = manager_->list_kept();
  ASSERT_TRUE(listed) << listed.error().message;
  EXPECT_TRUE(listed->empty());
  auto reclaimed = manager_->reclaim_stale();
  ASSERT_TRUE(reclaimed) << reclaimed.error().message;
  EXPECT_EQ(*reclaimed, 1u);
}

}  // namespace
}  // namespace isol8
