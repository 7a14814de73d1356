// Reused one-run cgroups (CgroupRoots::slot_count) on this machine's real v1 hierarchies: the
// kernel's own rules for limits, peaks and OOM kills, and a slot whose runner was SIGKILLed.
// Each test has slots of its own (a lock directory and a name prefix with this process's pid),
// so that the CLI runs of other tests, which use the default slots, never meet them.

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>

#include "cgroups/cgroup_fs.h"
#include "cgroups/cgroup_manager.h"
#include "common/fs_util.h"
#include "support/files.h"
#include "support/held_child.h"

namespace isol8 {
namespace {

namespace fs = std::filesystem;
using test::HeldChild;

CgroupLimits one_run(uint64_t memory, uint64_t pids) {
  CgroupLimits limits{memory, pids, 0};
  limits.one_run = true;
  return limits;
}

// Touches `bytes` of fresh anonymous memory.
int allocate(size_t bytes) {
  auto* p = static_cast<char*>(
      ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
  if (p == MAP_FAILED) return 2;
  for (size_t i = 0; i < bytes; i += 4096) p[i] = 1;
  return 0;
}

class CgroupSlotsLive : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "creating cgroups needs root";
    roots_.slot_count = 2;
    roots_.slot_dir = lock_dir_.path();
    roots_.slot_prefix = "test-slot-" + std::to_string(::getpid()) + "-";
    manager_ = detect_cgroup_manager(roots_);
    if (std::string(manager_->kind()) != "v1") {
      GTEST_SKIP() << "reused cgroup slots are a cgroup v1 feature; this host has "
                   << manager_->kind() << " (the main tier runs on v1)";
    }
  }
  void TearDown() override {
    if (!manager_ || std::string(manager_->kind()) != "v1") return;
    auto removed = manager_->remove_idle_slots();
    EXPECT_TRUE(removed) << removed.error().message;
    for (const char* controller : {"memory", "pids", "cpu", "cpuacct"}) {
      EXPECT_FALSE(fs::exists(dir(controller, 0))) << controller;
      EXPECT_FALSE(fs::exists(dir(controller, 1))) << controller;
    }
  }
  // <prefix><n>-<the identity of its lock file>.
  std::string slot_name(int index) {
    struct stat st {};
    const fs::path lock = fs::path(lock_dir_.path()) / ("slot-" + std::to_string(index) + ".lock");
    if (::stat(lock.c_str(), &st) != 0) return "no-lock-file-" + std::to_string(index);
    char id[40];
    std::snprintf(id, sizeof id, "%jx%jx", static_cast<uintmax_t>(st.st_dev),
                  static_cast<uintmax_t>(st.st_ino));
    return roots_.slot_prefix + std::to_string(index) + "-" + id;
  }
  fs::path dir(const std::string& controller, int index) {
    return fs::path("/sys/fs/cgroup") / controller / "isol8" / slot_name(index);
  }
  std::unique_ptr<Cgroup> claim(const CgroupLimits& limits) {
    auto cg = manager_->create("unused", limits);
    EXPECT_TRUE(cg) << cg.error().message;
    return cg ? std::move(cg).value() : nullptr;
  }
  // Runs `body` in a process inside `cg` and returns its usage; the slot is then given back.
  CgroupUsage run_in(std::unique_ptr<Cgroup> cg, const std::function<int()>& body,
                     int* status = nullptr) {
    HeldChild child(body);
    EXPECT_GT(child.pid(), 0);
    EXPECT_TRUE(cg->add_process(child.pid()));
    child.go();
    const int st = child.wait();
    if (status) *status = st;
    auto u = cg->usage();
    EXPECT_TRUE(u) << u.error().message;
    EXPECT_TRUE(cg->destroy());
    return u ? *u : CgroupUsage{};
  }
  std::string control(const std::string& controller, const std::string& file) {
    return test::slurp_trimmed(dir(controller, 0) / file);
  }

  test::TempDir lock_dir_{"isol8-slot-locks"};
  CgroupRoots roots_;
  std::unique_ptr<CgroupManager> manager_;
};

TEST_F(CgroupSlotsLive, LimitsFollowEachRunBothWays) {
  const std::string unlimited = test::slurp_trimmed("/sys/fs/cgroup/memory/memory.limit_in_bytes");
  struct Step {
    uint64_t memory;
    std::string expected;
  };
  // Down, up (memory+swap must be raised first), to none, and back.
  for (const Step& step :
       {Step{256ull << 20, "268435456"}, Step{64ull << 20, "67108864"},
        Step{512ull << 20, "536870912"}, Step{0, unlimited}, Step{128ull << 20, "134217728"}}) {
    auto cg = claim(one_run(step.memory, 32));
    ASSERT_TRUE(cg);
    EXPECT_EQ(cg->name(), slot_name(0));
    EXPECT_EQ(control("memory", "memory.limit_in_bytes"), step.expected);
    if (fs::exists(dir("memory", 0) / "memory.memsw.limit_in_bytes")) {
      EXPECT_EQ(control("memory", "memory.memsw.limit_in_bytes"), step.expected);
    }
    EXPECT_EQ(control("pids", "pids.max"), "32");
    run_in(std::move(cg), [] { return 0; });
    EXPECT_TRUE(fs::is_directory(dir("memory", 0))) << "the slot stays for the next run";
  }
}

TEST_F(CgroupSlotsLive, APeakCountsOnlyItsOwnRun) {
  // The first run reads 24 MB from disk (not a tmpfs, whose pages are charged to whoever wrote
  // them): that page cache stays charged to the slot, and is below what makes a slot anew.
  const fs::path file = "/var/tmp/isol8-slot-cache-" + std::to_string(::getpid());
  struct Remove {
    fs::path path;
    ~Remove() {
      std::error_code ec;
      fs::remove(path, ec);
    }
  } remove{file};
  {
    std::ofstream out(file);
    const std::string block(1 << 20, 'x');
    for (int i = 0; i < 24; ++i) out << block;
  }
  {
    const int fd = ::open(file.c_str(), O_RDONLY);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(::fdatasync(fd), 0);
    ASSERT_EQ(::posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED), 0);  // out of the page cache
    ::close(fd);
  }
  auto first = claim(one_run(0, 0));
  ASSERT_TRUE(first);
  const CgroupUsage reader = run_in(std::move(first), [&] {
    const int fd = ::open(file.c_str(), O_RDONLY);
    char buf[65536];
    while (::read(fd, buf, sizeof buf) > 0) {
    }
    return 0;
  });
  ASSERT_GT(reader.memory_peak_bytes, 16u << 20) << "the first run's reads were not charged";
  // The next run allocates 8 MB: its peak is that, not that plus the cache still charged.
  auto second = claim(one_run(0, 0));
  ASSERT_TRUE(second);
  EXPECT_EQ(second->name(), slot_name(0));
  const CgroupUsage small = run_in(std::move(second), [] { return allocate(8u << 20); });
  // (Within the kernel's per-CPU charge batches of 64 pages.)
  EXPECT_GE(small.memory_peak_bytes, 7u << 20);
  EXPECT_LT(small.memory_peak_bytes, 20u << 20) << "the first run's page cache was counted";
  EXPECT_TRUE(small.cpu_measured);
}

TEST_F(CgroupSlotsLive, AnOomKilledRunsSlotIsMadeAnew) {
  auto cg = claim(one_run(32ull << 20, 0));
  ASSERT_TRUE(cg);
  int status = 0;
  const CgroupUsage killed = run_in(
      std::move(cg), [] { return allocate(128u << 20); }, &status);
  ASSERT_TRUE(WIFSIGNALED(status)) << "exit status " << WEXITSTATUS(status);
  EXPECT_TRUE(killed.oom_killed);
  EXPECT_FALSE(fs::exists(dir("memory", 0))) << "an OOM-killed run's slot is not handed on";
  auto next = claim(one_run(32ull << 20, 0));
  ASSERT_TRUE(next);
  EXPECT_EQ(next->name(), slot_name(0));
  const CgroupUsage clean = run_in(std::move(next), [] { return allocate(1u << 20); });
  EXPECT_FALSE(clean.oom_killed);
  EXPECT_EQ(clean.oom_kills, 0u);
}

TEST_F(CgroupSlotsLive, ASlotOfASigkilledRunnerIsEmptiedAndMadeAnew) {
  // A runner that took slot 0 and put a process in it, then died without giving it back.
  int report[2];
  ASSERT_EQ(::pipe(report), 0);
  const pid_t runner = ::fork();
  ASSERT_GE(runner, 0);
  if (runner == 0) {
    ::close(report[0]);
    auto manager = detect_cgroup_manager(roots_);
    auto cg = manager->create("unused", one_run(64ull << 20, 16));
    if (!cg) ::_exit(1);
    const pid_t sleeper = ::fork();
    if (sleeper == 0) {
      // As the sandbox's init does first thing: it holds none of its runner's descriptors, so
      // not the slot's lock either.
      ::close_range(3, ~0U, 0);
      ::pause();
      ::_exit(0);
    }
    if (!(*cg)->add_process(sleeper)) ::_exit(2);
    if (::write(report[1], &sleeper, sizeof sleeper) != sizeof sleeper) ::_exit(3);
    ::pause();
    ::_exit(0);
  }
  ::close(report[1]);
  pid_t sleeper = 0;
  ASSERT_EQ(::read(report[0], &sleeper, sizeof sleeper), static_cast<ssize_t>(sizeof sleeper));
  ::close(report[0]);
  ASSERT_EQ(::kill(runner, SIGKILL), 0);
  ASSERT_EQ(::waitpid(runner, nullptr, 0), runner);
  ASSERT_EQ(control("pids", "cgroup.procs"), std::to_string(sleeper));
  // The next holder of slot 0 finds it "busy" with its lock free: it kills what is inside and
  // makes the cgroups anew.
  auto next = claim(one_run(64ull << 20, 16));
  ASSERT_TRUE(next);
  EXPECT_EQ(next->name(), slot_name(0));
  EXPECT_EQ(control("pids", "cgroup.procs"), "");
  EXPECT_FALSE(cgroups::pid_alive(sleeper)) << "the dead runner's process is still running";
  run_in(std::move(next), [] { return 0; });
}

}  // namespace
}  // namespace isol8
