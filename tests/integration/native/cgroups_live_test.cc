// The cgroup managers on the real hierarchy of this machine (v1 here; v2 where the unified
// hierarchy has the controllers): memory OOM-kills, pids stops a fork bomb, kill_all empties a
// tree, and nothing named isol8-<our pid>-* is left behind.

#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <fstream>
#include <functional>
#include <set>

#include "cgroups/cgroup_fs.h"
#include "cgroups/cgroup_manager.h"
#include "cgroups/cgroup_parse.h"
#include "common/fs_util.h"
#include "support/held_child.h"

namespace isol8 {
namespace {

namespace fs = std::filesystem;
using test::HeldChild;

// Every isol8-<our pid>-* directory in any cgroup hierarchy mounted here.
std::vector<fs::path> our_leftovers() {
  std::vector<fs::path> found;
  auto text = read_file("/proc/self/mountinfo");
  if (!text) return found;
  cgroups::CgroupMounts mounts = cgroups::parse_cgroup_mounts(*text);
  std::set<fs::path> roots;
  if (mounts.unified) roots.insert(*mounts.unified);
  for (const auto& [controller, mount] : mounts.v1) roots.insert(mount);
  std::string prefix = "isol8-" + std::to_string(::getpid()) + "-";
  for (const fs::path& root : roots) {
    std::error_code ec;
    for (fs::directory_iterator it(root / "isol8", ec), end; !ec && it != end; it.increment(ec)) {
      if (it->path().filename().string().rfind(prefix, 0) == 0) found.push_back(it->path());
    }
  }
  return found;
}

size_t count_procs(const Cgroup& cg) {
  auto pids = cgroups::read_procs(cg.directories().at(0) / "cgroup.procs");
  return pids ? pids->size() : 0;
}

class CgroupLive : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "creating cgroups needs root";
    manager_ = detect_cgroup_manager();
    if (std::string(manager_->kind()) == "none") {
      std::string why;
      for (const auto& r : manager_->unavailable_reasons()) why += "\n  " + r;
      GTEST_SKIP() << "no usable cgroup hierarchy (no v1 memory controller, no v2 one):" << why;
    }
  }
  void TearDown() override {
    if (!manager_ || std::string(manager_->kind()) == "none") return;
    EXPECT_EQ(our_leftovers(), std::vector<fs::path>{});
  }
  std::unique_ptr<Cgroup> create(const CgroupLimits& limits) {
    std::string name = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    auto cg = manager_->create(name, limits);
    EXPECT_TRUE(cg) << cg.error().message;
    return cg ? std::move(cg).value() : nullptr;
  }

  std::unique_ptr<CgroupManager> manager_;
};

TEST_F(CgroupLive, AppliesTheLimits) {
  auto cg = create({64 << 20, 16, 0.5});
  ASSERT_TRUE(cg);
  EXPECT_EQ(cg->enforced(), (std::vector<std::string>{"memory", "pids", "cpu"}));
  if (std::string(manager_->kind()) == "v1") {
    EXPECT_EQ(cg->clone_into_fd(), -1);
  } else {
    EXPECT_GE(cg->clone_into_fd(), 0);
  }
  EXPECT_FALSE(cg->directories().empty());
  for (const fs::path& dir : cg->directories()) {
    EXPECT_EQ(dir.filename().string(), cg->name());
    EXPECT_TRUE(fs::is_directory(dir)) << dir;
  }
}

TEST_F(CgroupLive, MemoryLimitOomKills) {
  auto cg = create({64 << 20, 16, 0});
  ASSERT_TRUE(cg);
  HeldChild child([] {
    const size_t size = 200 << 20;
    auto* p = static_cast<char*>(
        ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
    if (p == MAP_FAILED) return 2;
    for (size_t i = 0; i < size; i += 4096) p[i] = 1;
    return 0;  // not killed: the limit did not hold
  });
  ASSERT_GT(child.pid(), 0);
  ASSERT_TRUE(cg->add_process(child.pid()));
  child.go();
  int status = child.wait();
  ASSERT_TRUE(WIFSIGNALED(status)) << "exit status " << WEXITSTATUS(status);
  EXPECT_EQ(WTERMSIG(status), SIGKILL);
  auto u = cg->usage();
  ASSERT_TRUE(u) << u.error().message;
  EXPECT_TRUE(u->oom_killed);
  EXPECT_GT(u->memory_peak_bytes, 32u << 20);
  EXPECT_LE(u->memory_peak_bytes, 65u << 20);
}

TEST_F(CgroupLive, PidsLimitStopsAForkBomb) {
  auto cg = create({256 << 20, 16, 0});
  ASSERT_TRUE(cg);
  HeldChild bomb([] {
    for (int i = 0; i < 1000; ++i) {
      pid_t p = ::fork();
      if (p == 0) {
        ::pause();
        ::_exit(0);
      }
      if (p < 0) return errno == EAGAIN ? 42 : 43;
    }
    return 1;  // 1000 forks: the limit did not hold
  });
  ASSERT_GT(bomb.pid(), 0);
  ASSERT_TRUE(cg->add_process(bomb.pid()));
  bomb.go();
  int status = bomb.wait();
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 42) << "43: fork failed with another errno; 1: no limit";
  EXPECT_EQ(count_procs(*cg), 15u);  // the bomb has exited; its 15 children hold the limit
  ASSERT_TRUE(cg->kill_all());
  EXPECT_EQ(count_procs(*cg), 0u);
}

TEST_F(CgroupLive, KillAllEmptiesATreeWithinASecond) {
  auto cg = create({256 << 20, 64, 0});
  ASSERT_TRUE(cg);
  HeldChild root([]() -> int {
    for (int i = 0; i < 4; ++i) {
      if (::fork() == 0) {
        for (int j = 0; j < 3; ++j) {
          if (::fork() == 0) break;  // grandchildren fork no further
        }
        for (;;) ::pause();
      }
    }
    for (;;) ::pause();
  });
  ASSERT_GT(root.pid(), 0);
  ASSERT_TRUE(cg->add_process(root.pid()));
  root.go();
  ASSERT_TRUE(cgroups::poll_until(std::chrono::seconds(5), [&] { return count_procs(*cg) == 17; }))
      << count_procs(*cg) << " processes";
  auto start = std::chrono::steady_clock::now();
  auto killed = cg->kill_all();
  auto took = std::chrono::steady_clock::now() - start;
  ASSERT_TRUE(killed) << killed.error().message;
  EXPECT_LT(took, std::chrono::seconds(1));
  EXPECT_EQ(count_procs(*cg), 0u);
  int status = root.wait();
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
}

TEST_F(CgroupLive, DestroyKillsAndRemovesEverything) {
  auto cg = create({64 << 20, 16, 1});
  ASSERT_TRUE(cg);
  HeldChild child([]() -> int {
    for (;;) ::pause();
  });
  ASSERT_TRUE(cg->add_process(child.pid()));
  child.go();
  std::vector<fs::path> dirs = cg->directories();
  cg.reset();
  for (const fs::path& dir : dirs) EXPECT_FALSE(fs::exists(dir)) << dir;
  int status = child.wait();
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
}

TEST_F(CgroupLive, UsageCountsCpuTime) {
  auto cg = create({64 << 20, 16, 0});
  ASSERT_TRUE(cg);
  HeldChild child([] {
    volatile uint64_t x = 0;
    auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(200);
    while (std::chrono::steady_clock::now() < end) x = x + 1;
    return 0;
  });
  ASSERT_TRUE(cg->add_process(child.pid()));
  child.go();
  int status = child.wait();
  ASSERT_TRUE(WIFEXITED(status));
  auto u = cg->usage();
  ASSERT_TRUE(u) << u.error().message;
  EXPECT_GT(u->cpu_user_usec + u->cpu_system_usec, 0u);
  EXPECT_FALSE(u->oom_killed);
}

// v2: clone3 with CLONE_INTO_CGROUP starts the child inside the cgroup, with no add_process.
TEST_F(CgroupLive, CloneIntoCgroupOnV2) {
  auto cg = create({64 << 20, 16, 0});
  ASSERT_TRUE(cg);
  if (cg->clone_into_fd() < 0) GTEST_SKIP() << manager_->kind() << ": no CLONE_INTO_CGROUP";
  struct clone_args args {};
  args.flags = CLONE_INTO_CGROUP;
  args.exit_signal = SIGCHLD;
  args.cgroup = static_cast<uint64_t>(cg->clone_into_fd());
  long pid = ::syscall(SYS_clone3, &args, sizeof args);
  ASSERT_GE(pid, 0) << std::strerror(errno);
  if (pid == 0) {
    char buf[4096];
    int fd = ::open("/proc/self/cgroup", O_RDONLY | O_CLOEXEC);
    ssize_t n = fd < 0 ? -1 : ::read(fd, buf, sizeof buf - 1);
    if (n <= 0) ::_exit(2);
    buf[n] = 0;
    ::_exit(std::strstr(buf, "/isol8/isol8-") != nullptr ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(static_cast<pid_t>(pid), &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "status " << status;
}

TEST_F(CgroupLive, ReclaimStaleRemovesADeadRunnersCgroups) {
  auto probe = create({});
  ASSERT_TRUE(probe);
  long pid_max = 4194304;
  std::ifstream("/proc/sys/kernel/pid_max") >> pid_max;
  std::string stale = "isol8-" + std::to_string(pid_max + 1) + "-left-behind";
  std::vector<fs::path> stale_dirs;
  for (const fs::path& dir : probe->directories()) {
    fs::path d = dir.parent_path() / stale;
    ASSERT_TRUE(fs::create_directory(d)) << d;
    stale_dirs.push_back(d);
  }
  auto n = manager_->reclaim_stale();
  ASSERT_TRUE(n) << n.error().message;
  EXPECT_GE(*n, 1u);
  for (const fs::path& d : stale_dirs) EXPECT_FALSE(fs::exists(d)) << d;
  for (const fs::path& dir : probe->directories()) EXPECT_TRUE(fs::exists(dir)) << dir;
}

}  // namespace
}  // namespace isol8
