// The cgroup v1 manager against a temp-directory imitation of the v1 hierarchies, in both layouts:
// separate cpu and cpuacct hierarchies (this machine) and co-mounted cpu,cpuacct (Debian/systemd).

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

std::string own_name(const std::string& name) {
  return "isol8-" + std::to_string(::getpid()) + "-" + name;
}

class CgroupV1 : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* c : {"memory", "pids", "cpu", "cpuacct", "freezer"}) {
      mounts_[c] = fake_.add_v1(c);
    }
    manager_ = detect_cgroup_manager(fake_.roots());
    ASSERT_STREQ(manager_->kind(), "v1");
  }
  fs::path dir(const std::string& controller, const std::string& name = "sb1") {
    return mounts_.at(controller) / "isol8" / own_name(name);
  }

  FakeCgroupFs fake_;
  std::map<std::string, fs::path> mounts_;
  std::unique_ptr<CgroupManager> manager_;
};

TEST_F(CgroupV1, WritesLimitsInEveryHierarchy) {
  EXPECT_TRUE(manager_->unavailable_reasons().empty());
  auto cg = manager_->create("sb1", {512ull << 20, 64, 1.5});
  ASSERT_TRUE(cg) << cg.error().message;
  EXPECT_EQ((*cg)->name(), own_name("sb1"));
  EXPECT_EQ((*cg)->directories().size(), 5u);
  EXPECT_EQ(test::slurp_trimmed(dir("memory") / "memory.limit_in_bytes"), "536870912");
  EXPECT_EQ(test::slurp_trimmed(dir("memory") / "memory.memsw.limit_in_bytes"), "536870912");
  EXPECT_EQ(test::slurp_trimmed(dir("pids") / "pids.max"), "64");
  EXPECT_EQ(test::slurp_trimmed(dir("cpu") / "cpu.cfs_period_us"), "100000");
  EXPECT_EQ(test::slurp_trimmed(dir("cpu") / "cpu.cfs_quota_us"), "150000");
  EXPECT_TRUE(fs::is_directory(dir("cpuacct")));
  EXPECT_TRUE(fs::is_directory(dir("freezer")));
  EXPECT_EQ((*cg)->enforced(), (std::vector<std::string>{"memory", "pids", "cpu"}));
  EXPECT_EQ((*cg)->clone_into_fd(), -1);
  cg->reset();
  for (const auto& [controller, mount] : mounts_) {
    EXPECT_FALSE(fs::exists(dir(controller))) << controller;
    EXPECT_TRUE(fs::exists(mount / "isol8")) << controller;
  }
}

TEST_F(CgroupV1, AddProcessWritesEveryHierarchy) {
  auto cg = manager_->create("sb1", {});
  ASSERT_TRUE(cg) << cg.error().message;
  pid_t fake_pid = impossible_pid();
  ASSERT_TRUE((*cg)->add_process(fake_pid));
  for (const auto& [controller, mount] : mounts_) {
    EXPECT_EQ(test::slurp_trimmed(dir(controller) / "cgroup.procs"), std::to_string(fake_pid))
        << controller;
    FakeCgroupFs::write(dir(controller) / "cgroup.procs", "");  // as if it had exited
  }
}

// The fake kernel's freezer.state starts as "THAWED\n"; isol8 writes "FROZEN" and "THAWED".
TEST_F(CgroupV1, KillAllFreezesAndThawsAroundTheKill) {
  auto cg = manager_->create("sb1", {});
  ASSERT_TRUE(cg) << cg.error().message;
  FakeCgroupFs::write(dir("pids") / "cgroup.procs", std::to_string(impossible_pid()) + "\n");
  EXPECT_FALSE((*cg)->kill_all());  // the fake pid stays listed
  EXPECT_EQ(test::slurp(dir("freezer") / "freezer.state"), "THAWED");
  FakeCgroupFs::write(dir("pids") / "cgroup.procs", "");
}

// After a run init was reaped, so its pid namespace is gone: nothing to freeze.
TEST_F(CgroupV1, KillAllLeavesAnEmptyCgroupUnfrozen) {
  auto cg = manager_->create("sb1", {});
  ASSERT_TRUE(cg) << cg.error().message;
  ASSERT_TRUE((*cg)->kill_all());
  EXPECT_EQ(test::slurp(dir("freezer") / "freezer.state"), "THAWED\n");
  cg->reset();
  for (const auto& [controller, mount] : mounts_) EXPECT_FALSE(fs::exists(dir(controller)));
}

TEST_F(CgroupV1, KillAllReportsProcessesThatStay) {
  auto cg = manager_->create("sb1", {});
  ASSERT_TRUE(cg) << cg.error().message;
  FakeCgroupFs::write(dir("pids") / "cgroup.procs", std::to_string(impossible_pid()) + "\n");
  auto r = (*cg)->kill_all();
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("processes remain"), std::string::npos) << r.error().message;
  FakeCgroupFs::write(dir("pids") / "cgroup.procs", "");
}

// Removal comes first and needs no kill when the cgroup is empty; a refused removal, in the first
// hierarchy tried or a later one, falls back to killing what is listed.
TEST_F(CgroupV1, DestroyKillsWhatARefusedRemovalShows) {
  for (const char* listed_in : {"pids", "memory"}) {
    auto cg = manager_->create("sb1", {});
    ASSERT_TRUE(cg) << cg.error().message;
    FakeCgroupFs::write(dir(listed_in) / "cgroup.procs", std::to_string(impossible_pid()) + "\n");
    auto r = (*cg)->destroy();
    ASSERT_FALSE(r) << listed_in;
    EXPECT_NE(r.error().message.find("processes remain"), std::string::npos)
        << listed_in << ": " << r.error().message;
    FakeCgroupFs::write(dir(listed_in) / "cgroup.procs", "");
    ASSERT_EQ(fake_.ops().remove_dir(dir(listed_in)), 0) << listed_in;
  }
}

TEST_F(CgroupV1, UsageReadsPeakOomAndCpuacctTicks) {
  auto cg = manager_->create("sb1", {64 << 20, 16, 1});
  ASSERT_TRUE(cg) << cg.error().message;
  FakeCgroupFs::write(dir("memory") / "memory.max_usage_in_bytes", "67108864\n");
  FakeCgroupFs::write(dir("memory") / "memory.oom_control",
                      "oom_kill_disable 0\nunder_oom 0\noom_kill 1\n");
  FakeCgroupFs::write(dir("cpuacct") / "cpuacct.stat", "user 150\nsystem 50\n");
  auto u = (*cg)->usage();
  ASSERT_TRUE(u) << u.error().message;
  const uint64_t hz = static_cast<uint64_t>(::sysconf(_SC_CLK_TCK));
  EXPECT_EQ(u->memory_peak_bytes, 67108864u);
  EXPECT_TRUE(u->oom_killed);
  EXPECT_EQ(u->cpu_user_usec, 150 * 1000000 / hz);
  EXPECT_EQ(u->cpu_system_usec, 50 * 1000000 / hz);
}

TEST_F(CgroupV1, OomFallsBackToUnderOomOnOldKernels) {
  auto cg = manager_->create("sb1", {64 << 20, 0, 0});
  ASSERT_TRUE(cg) << cg.error().message;
  FakeCgroupFs::write(dir("memory") / "memory.oom_control", "oom_kill_disable 0\nunder_oom 0\n");
  EXPECT_FALSE((*cg)->usage()->oom_killed);
  FakeCgroupFs::write(dir("memory") / "memory.oom_control", "oom_kill_disable 0\nunder_oom 1\n");
  EXPECT_TRUE((*cg)->usage()->oom_killed);
}

TEST_F(CgroupV1, CreateFailingHalfWayLeavesNoDirectory) {
  fake_.template_of(mounts_.at("pids")).erase("pids.max");
  auto cg = manager_->create("sb1", {64 << 20, 16, 1});
  ASSERT_FALSE(cg);
  EXPECT_NE(cg.error().message.find("pids.max"), std::string::npos) << cg.error().message;
  for (const auto& [controller, mount] : mounts_) {
    EXPECT_FALSE(fs::exists(dir(controller))) << controller;
  }
}

TEST_F(CgroupV1, ReclaimStaleAcrossHierarchies) {
  CgroupFsOps ops = fake_.ops();
  std::string dead = "isol8-" + std::to_string(impossible_pid()) + "-old";
  for (const auto& [controller, mount] : mounts_) {
    ASSERT_EQ(ops.make_dir(mount / "isol8"), 0);
    if (controller != "cpu") {  // a partial leftover: not in every hierarchy
      ASSERT_EQ(ops.make_dir(mount / "isol8" / dead), 0);
    }
  }
  auto alive = manager_->create("mine", {});
  ASSERT_TRUE(alive) << alive.error().message;
  auto n = manager_->reclaim_stale();
  ASSERT_TRUE(n) << n.error().message;
  EXPECT_EQ(*n, 1u);
  for (const auto& [controller, mount] : mounts_) {
    EXPECT_FALSE(fs::exists(mount / "isol8" / dead)) << controller;
    EXPECT_TRUE(fs::exists(dir(controller, "mine"))) << controller;
  }
}

// A one-run cgroup ends with its sandbox's pid namespace: it needs no freezer. Its CPU time still
// comes from cpuacct (init's rusage misses what the kernel reaps when the namespace ends).
TEST_F(CgroupV1, OneRunCgroupHasNoFreezer) {
  CgroupLimits limits{512ull << 20, 64, 1.5};
  limits.one_run = true;
  auto cg = manager_->create("sb1", limits);
  ASSERT_TRUE(cg) << cg.error().message;
  EXPECT_EQ((*cg)->directories().size(), 4u);
  EXPECT_FALSE(fs::exists(dir("freezer")));
  EXPECT_TRUE(fs::exists(dir("cpuacct")));
  EXPECT_EQ(test::slurp_trimmed(dir("memory") / "memory.limit_in_bytes"), "536870912");
  EXPECT_EQ(test::slurp_trimmed(dir("pids") / "pids.max"), "64");
  EXPECT_EQ(test::slurp_trimmed(dir("cpu") / "cpu.cfs_quota_us"), "150000");
  EXPECT_EQ((*cg)->enforced(), (std::vector<std::string>{"memory", "pids", "cpu"}));
  FakeCgroupFs::write(dir("memory") / "memory.max_usage_in_bytes", "4096\n");
  FakeCgroupFs::write(dir("cpuacct") / "cpuacct.stat", "user 100\nsystem 0\n");
  auto u = (*cg)->usage();
  ASSERT_TRUE(u) << u.error().message;
  EXPECT_TRUE(u->cpu_measured);
  EXPECT_EQ(u->cpu_user_usec, 100 * 1000000 / static_cast<uint64_t>(::sysconf(_SC_CLK_TCK)));
  EXPECT_EQ(u->memory_peak_bytes, 4096u);
  // A process still listed is killed without a freezer, and reported when it stays.
  FakeCgroupFs::write(dir("pids") / "cgroup.procs", std::to_string(impossible_pid()) + "\n");
  auto killed = (*cg)->kill_all();
  ASSERT_FALSE(killed);
  EXPECT_NE(killed.error().message.find("processes remain"), std::string::npos);
  FakeCgroupFs::write(dir("pids") / "cgroup.procs", "");
  cg->reset();
  for (const char* controller : {"memory", "pids", "cpu", "cpuacct"}) {
    EXPECT_FALSE(fs::exists(dir(controller))) << controller;
  }
}

TEST_F(CgroupV1, LongLivedCgroupMeasuresCpu) {
  auto cg = manager_->create("sb1", {});
  ASSERT_TRUE(cg) << cg.error().message;
  FakeCgroupFs::write(dir("cpuacct") / "cpuacct.stat", "user 0\nsystem 0\n");
  auto u = (*cg)->usage();
  ASSERT_TRUE(u) << u.error().message;
  EXPECT_TRUE(u->cpu_measured);
}

TEST(CgroupV1Layout, CoMountedCpuAndCpuacctShareOneDirectory) {
  FakeCgroupFs fake;
  fs::path memory = fake.add_v1("memory");
  fake.add_v1("pids");
  fs::path cpu = fake.add_v1("cpu,cpuacct");
  fake.add_v1("freezer");
  auto manager = detect_cgroup_manager(fake.roots());
  ASSERT_STREQ(manager->kind(), "v1");
  auto cg = manager->create("sb1", {1 << 30, 100, 0.5});
  ASSERT_TRUE(cg) << cg.error().message;
  EXPECT_EQ((*cg)->directories().size(), 4u);
  fs::path dir = cpu / "isol8" / own_name("sb1");
  EXPECT_EQ(test::slurp_trimmed(dir / "cpu.cfs_quota_us"), "50000");
  FakeCgroupFs::write(dir / "cpuacct.stat", "user 10\nsystem 0\n");
  auto u = (*cg)->usage();
  ASSERT_TRUE(u) << u.error().message;
  EXPECT_EQ(u->cpu_user_usec, 10 * 1000000 / static_cast<uint64_t>(::sysconf(_SC_CLK_TCK)));
  cg->reset();
  EXPECT_FALSE(fs::exists(dir));
  EXPECT_FALSE(fs::exists(memory / "isol8" / own_name("sb1")));

  // A one-run cgroup here: memory, pids and cpu,cpuacct, no freezer; the CPU time is measured.
  CgroupLimits one_run{1 << 30, 100, 0.5};
  one_run.one_run = true;
  auto run = manager->create("sb2", one_run);
  ASSERT_TRUE(run) << run.error().message;
  EXPECT_EQ((*run)->directories().size(), 3u);
  FakeCgroupFs::write(cpu / "isol8" / own_name("sb2") / "cpuacct.stat", "user 10\nsystem 0\n");
  auto measured = (*run)->usage();
  ASSERT_TRUE(measured) << measured.error().message;
  EXPECT_TRUE(measured->cpu_measured);
}

TEST(CgroupV1Layout, WithoutMemswOrCpuacctStillWorksAndSaysSo) {
  FakeCgroupFs fake;
  fs::path memory = fake.add_v1("memory");
  fake.add_v1("pids");
  fake.add_v1("cpu");
  fake.add_v1("freezer");
  fake.template_of(memory).erase("memory.memsw.limit_in_bytes");
  fs::remove(memory / "memory.memsw.limit_in_bytes");
  auto manager = detect_cgroup_manager(fake.roots());
  ASSERT_STREQ(manager->kind(), "v1");
  auto reasons = manager->unavailable_reasons();
  ASSERT_EQ(reasons.size(), 2u);
  EXPECT_NE(reasons[0].find("cpuacct"), std::string::npos) << reasons[0];
  EXPECT_NE(reasons[1].find("memsw"), std::string::npos) << reasons[1];
  auto cg = manager->create("sb1", {64 << 20, 0, 0});
  ASSERT_TRUE(cg) << cg.error().message;
  EXPECT_EQ(test::slurp_trimmed(memory / "isol8" / own_name("sb1") / "memory.limit_in_bytes"),
            "67108864");
  auto u = (*cg)->usage();
  ASSERT_TRUE(u) << u.error().message;
  EXPECT_EQ(u->cpu_user_usec, 0u);
}

}  // namespace
}  // namespace isol8
