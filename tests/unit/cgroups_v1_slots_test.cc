// Reused one-run cgroups on v1 (CgroupRoots::slot_count), against the temp-directory imitation
// of the v1 hierarchies: which slot a run gets, what is rewritten and what is not, usage relative
// to the slot's baseline, and when a slot is removed instead of handed on.

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>

#include "cgroups/cgroup_manager.h"
#include "fakes/fake_cgroupfs.h"
#include "support/files.h"
#include "support/host_state.h"

namespace isol8 {
namespace {

namespace fs = std::filesystem;
using testing::FakeCgroupFs;

CgroupLimits one_run(uint64_t memory, uint64_t pids, double cpus) {
  CgroupLimits limits{memory, pids, cpus};
  limits.one_run = true;
  return limits;
}

class CgroupV1Slots : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* c : {"memory", "pids", "cpu", "cpuacct", "freezer"}) {
      mounts_[c] = fake_.add_v1(c);
    }
    CgroupRoots roots = fake_.roots();
    roots.slot_count = 2;
    roots.slot_dir = fake_.root() / "run" / "cgroup";
    manager_ = detect_cgroup_manager(roots);
    ASSERT_STREQ(manager_->kind(), "v1");
  }
  // slot-<n>-<the identity of its lock file>: the lock file exists once the slot was claimed.
  std::string slot_name(int index) {
    struct stat st {};
    const fs::path lock =
        fake_.root() / "run" / "cgroup" / ("slot-" + std::to_string(index) + ".lock");
    if (::stat(lock.c_str(), &st) != 0) return "no lock file for slot " + std::to_string(index);
    char id[40];
    std::snprintf(id, sizeof id, "%jx%jx", static_cast<uintmax_t>(st.st_dev),
                  static_cast<uintmax_t>(st.st_ino));
    return "slot-" + std::to_string(index) + "-" + id;
  }
  fs::path dir(const std::string& controller, int index = 0) {
    return mounts_.at(controller) / "isol8" / slot_name(index);
  }
  // The slot's record without the padding of its fixed-length line.
  std::string record(int index = 0) {
    return test::slurp_trimmed(fake_.root() / "run" / "cgroup" /
                               ("slot-" + std::to_string(index) + ".lock"));
  }
  std::unique_ptr<Cgroup> claim(const CgroupLimits& limits, const std::string& name = "sb") {
    auto cg = manager_->create(name, limits);
    EXPECT_TRUE(cg) << cg.error().message;
    return cg ? std::move(cg).value() : nullptr;
  }
  // A run whose usage was read and showed nothing wrong, given back.
  void finish(std::unique_ptr<Cgroup> cg) {
    ASSERT_TRUE(cg);
    auto u = cg->usage();
    ASSERT_TRUE(u) << u.error().message;
    ASSERT_TRUE(cg->destroy());
  }

  FakeCgroupFs fake_;
  std::map<std::string, fs::path> mounts_;
  std::unique_ptr<CgroupManager> manager_;
};

TEST_F(CgroupV1Slots, ARunGetsSlotZeroAndGivesItBackReady) {
  auto cg = claim(one_run(512ull << 20, 64, 1.5));
  ASSERT_TRUE(cg);
  EXPECT_EQ(cg->name(), slot_name(0));
  EXPECT_EQ(cg->directories().size(), 4u);
  EXPECT_FALSE(fs::exists(dir("freezer")));
  EXPECT_EQ(test::slurp_trimmed(dir("memory") / "memory.limit_in_bytes"), "536870912");
  EXPECT_EQ(test::slurp_trimmed(dir("memory") / "memory.memsw.limit_in_bytes"), "536870912");
  EXPECT_EQ(test::slurp_trimmed(dir("pids") / "pids.max"), "64");
  EXPECT_EQ(test::slurp_trimmed(dir("cpu") / "cpu.cfs_quota_us"), "150000");
  EXPECT_EQ(cg->enforced(), (std::vector<std::string>{"memory", "pids", "cpu"}));
  EXPECT_EQ(record(), "busy");
  // The tasks files of all four hierarchies, opened when the slot was taken.
  auto join = cg->open_self_join_files();
  ASSERT_TRUE(join) << join.error().message;
  EXPECT_EQ(join->size(), 4u);
  EXPECT_FALSE(cg->hand_over(::getpid()));
  finish(std::move(cg));
  EXPECT_EQ(record(), "ready 536870912 64 150000");
  for (const char* controller : {"memory", "pids", "cpu", "cpuacct"}) {
    EXPECT_TRUE(fs::is_directory(dir(controller))) << controller;
  }
}

TEST_F(CgroupV1Slots, TheNextRunRewritesOnlyTheLimitsThatDiffer) {
  finish(claim(one_run(512ull << 20, 64, 1.5)));
  // Marks that only a write would replace.
  FakeCgroupFs::write(dir("memory") / "memory.limit_in_bytes", "untouched\n");
  FakeCgroupFs::write(dir("pids") / "pids.max", "untouched\n");
  FakeCgroupFs::write(dir("cpu") / "cpu.cfs_quota_us", "untouched\n");
  auto same = claim(one_run(512ull << 20, 64, 1.5));
  ASSERT_TRUE(same);
  EXPECT_EQ(same->name(), slot_name(0));
  EXPECT_EQ(test::slurp_trimmed(dir("memory") / "memory.limit_in_bytes"), "untouched");
  EXPECT_EQ(test::slurp_trimmed(dir("pids") / "pids.max"), "untouched");
  EXPECT_EQ(test::slurp_trimmed(dir("cpu") / "cpu.cfs_quota_us"), "untouched");
  finish(std::move(same));
  // No limits at all: each is set back to the kernel's "no limit".
  auto none = claim(one_run(0, 0, 0));
  ASSERT_TRUE(none);
  EXPECT_EQ(test::slurp_trimmed(dir("memory") / "memory.limit_in_bytes"), "-1");
  EXPECT_EQ(test::slurp_trimmed(dir("memory") / "memory.memsw.limit_in_bytes"), "-1");
  EXPECT_EQ(test::slurp_trimmed(dir("pids") / "pids.max"), "max");
  EXPECT_EQ(test::slurp_trimmed(dir("cpu") / "cpu.cfs_quota_us"), "-1");
  EXPECT_TRUE(none->enforced().empty());
  finish(std::move(none));
  EXPECT_EQ(record(), "ready 0 0 0");
}

TEST_F(CgroupV1Slots, UsageIsRelativeToWhatTheSlotHadCounted) {
  finish(claim(one_run(0, 0, 0)));
  // Earlier runs' CPU time; the peak is reset when the slot is taken (the fake kernel keeps the
  // written "0", where the real one puts what is still charged).
  FakeCgroupFs::write(dir("cpuacct") / "cpuacct.stat", "user 500\nsystem 300\n");
  FakeCgroupFs::write(dir("memory") / "memory.max_usage_in_bytes", "999999\n");
  auto cg = claim(one_run(0, 0, 0));
  ASSERT_TRUE(cg);
  EXPECT_EQ(test::slurp_trimmed(dir("memory") / "memory.max_usage_in_bytes"), "0");
  FakeCgroupFs::write(dir("cpuacct") / "cpuacct.stat", "user 502\nsystem 301\n");
  FakeCgroupFs::write(dir("memory") / "memory.max_usage_in_bytes", "8192\n");
  auto u = cg->usage();
  ASSERT_TRUE(u) << u.error().message;
  const uint64_t tick_usec = 1000000 / static_cast<uint64_t>(::sysconf(_SC_CLK_TCK));
  EXPECT_EQ(u->cpu_user_usec, 2 * tick_usec);
  EXPECT_EQ(u->cpu_system_usec, 1 * tick_usec);
  EXPECT_EQ(u->memory_peak_bytes, 8192u);
}

TEST_F(CgroupV1Slots, HeldSlotsAreSkippedAndThenARunMakesItsOwn) {
  auto first = claim(one_run(0, 0, 0), "a");
  auto second = claim(one_run(0, 0, 0), "b");
  auto third = claim(one_run(0, 0, 0), "c");
  ASSERT_TRUE(first && second && third);
  EXPECT_EQ(first->name(), slot_name(0));
  EXPECT_EQ(second->name(), slot_name(1));
  EXPECT_EQ(third->name(), "isol8-" + std::to_string(::getpid()) + "-c");
  // A cgroup that outlives its run never gets a slot.
  auto session = claim(CgroupLimits{}, "d");
  ASSERT_TRUE(session);
  EXPECT_EQ(session->name(), "isol8-" + std::to_string(::getpid()) + "-d");
  finish(std::move(first));
  auto again = claim(one_run(0, 0, 0), "e");
  ASSERT_TRUE(again);
  EXPECT_EQ(again->name(), slot_name(0));
}

TEST_F(CgroupV1Slots, AnOomKillOrAPidsLimitHitRemovesTheSlot) {
  for (const auto& [file, text] : std::vector<std::pair<std::string, std::string>>{
           {"memory.oom_control", "oom_kill_disable 0\nunder_oom 0\noom_kill 1\n"},
           {"pids.events", "max 3\n"}}) {
    auto cg = claim(one_run(64 << 20, 16, 0));
    ASSERT_TRUE(cg);
    FakeCgroupFs::write(dir(file.starts_with("pids") ? "pids" : "memory") / file, text);
    finish(std::move(cg));
    EXPECT_FALSE(fs::exists(dir("memory"))) << file;
    EXPECT_EQ(record(), "busy");
    // The next run makes it anew: fresh counters, and every limit written.
    auto next = claim(one_run(64 << 20, 16, 0));
    ASSERT_TRUE(next);
    EXPECT_EQ(next->name(), slot_name(0));
    EXPECT_EQ(test::slurp_trimmed(dir("pids") / "pids.max"), "16");
    auto u = next->usage();
    ASSERT_TRUE(u) << u.error().message;
    EXPECT_FALSE(u->oom_killed);
    EXPECT_EQ(u->pids_max_hits, 0u);
    ASSERT_TRUE(next->destroy());
    EXPECT_EQ(record(), "ready 67108864 16 0");
  }
}

TEST_F(CgroupV1Slots, AProcessLeftInTheSlotKeepsItFromBeingHandedOn) {
  auto cg = claim(one_run(0, 0, 0));
  ASSERT_TRUE(cg);
  // Listed in every hierarchy, as a real process is. The fake kernel never empties cgroup.procs:
  // the kill that destroy tries then reports it.
  const std::string left = std::to_string(test::impossible_pid()) + "\n";
  for (const char* controller : {"memory", "pids", "cpu", "cpuacct"}) {
    FakeCgroupFs::write(dir(controller) / "cgroup.procs", left);
  }
  auto destroyed = cg->destroy();
  ASSERT_FALSE(destroyed);
  EXPECT_NE(destroyed.error().message.find("processes remain"), std::string::npos);
  EXPECT_EQ(record(), "busy");
  for (const char* controller : {"memory", "pids", "cpu", "cpuacct"}) {
    FakeCgroupFs::write(dir(controller) / "cgroup.procs", "");
  }
}

TEST_F(CgroupV1Slots, ASlotLeftBusyIsMadeAnew) {
  // A runner killed mid-run leaves "busy" and its cgroups with whatever limits they had.
  finish(claim(one_run(64 << 20, 16, 0)));
  FakeCgroupFs::write(fake_.root() / "run" / "cgroup" / "slot-0.lock", "busy\n");
  FakeCgroupFs::write(dir("pids") / "pids.max", "untouched\n");
  auto next = claim(one_run(64 << 20, 16, 0));
  ASSERT_TRUE(next);
  EXPECT_EQ(next->name(), slot_name(0));
  EXPECT_EQ(test::slurp_trimmed(dir("pids") / "pids.max"), "16");
}

TEST_F(CgroupV1Slots, MissingDirectoriesOfAReadySlotAreMadeAgain) {
  finish(claim(one_run(0, 8, 0)));
  fs::remove_all(dir("cpuacct"));
  auto cg = claim(one_run(0, 8, 0));
  ASSERT_TRUE(cg);
  EXPECT_EQ(cg->name(), slot_name(0));
  EXPECT_TRUE(fs::is_directory(dir("cpuacct")));
  EXPECT_EQ(test::slurp_trimmed(dir("pids") / "pids.max"), "8");
}

TEST_F(CgroupV1Slots, RemoveIdleSlotsLeavesHeldOnes) {
  auto held = claim(one_run(0, 0, 0), "a");
  auto idle = claim(one_run(0, 0, 0), "b");
  ASSERT_TRUE(held && idle);
  finish(std::move(idle));
  ASSERT_TRUE(fs::exists(dir("memory", 1)));
  // A slot of another lock directory (another /run sharing these hierarchies) is not ours.
  const fs::path foreign = mounts_.at("memory") / "isol8" / "slot-1-ffff";
  ASSERT_TRUE(fs::create_directory(foreign));
  auto removed = manager_->remove_idle_slots();
  ASSERT_TRUE(removed) << removed.error().message;
  EXPECT_EQ(*removed, 1u);
  EXPECT_TRUE(fs::exists(dir("memory", 0)));
  for (const char* controller : {"memory", "pids", "cpu", "cpuacct"}) {
    EXPECT_FALSE(fs::exists(dir(controller, 1))) << controller;
  }
  EXPECT_TRUE(fs::exists(foreign));
  // Named cgroups are not slots, and stale-cgroup reclaim does not take slots for them.
  auto reclaimed = manager_->reclaim_stale();
  ASSERT_TRUE(reclaimed) << reclaimed.error().message;
  EXPECT_EQ(*reclaimed, 0u);
  EXPECT_TRUE(fs::exists(dir("memory", 0)));
}

TEST(CgroupV1SlotsOff, WithoutSlotsAOneRunCgroupIsItsOwn) {
  FakeCgroupFs fake;
  for (const char* c : {"memory", "pids", "cpu", "cpuacct", "freezer"}) fake.add_v1(c);
  auto manager = detect_cgroup_manager(fake.roots());
  auto cg = manager->create("sb", one_run(0, 0, 0));
  ASSERT_TRUE(cg) << cg.error().message;
  EXPECT_EQ((*cg)->name(), "isol8-" + std::to_string(::getpid()) + "-sb");
  auto removed = manager->remove_idle_slots();
  ASSERT_TRUE(removed);
  EXPECT_EQ(*removed, 0u);
}

}  // namespace
}  // namespace isol8
