#include "support/sandbox_fixtures.h"

#include <sched.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <thread>

#include "support/host_state.h"

namespace isol8::test {

std::string sandbox_unavailable_reason() {
  if (::geteuid() == 0) return "";
  const pid_t child = ::fork();
  if (child < 0) return "fork failed while checking for user namespaces";
  if (child == 0) _exit(::unshare(CLONE_NEWUSER) == 0 ? 0 : 1);
  int status = 0;
  while (::waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return "";
  return "not root and unprivileged user namespaces are unavailable "
         "(kernel.unprivileged_userns_clone / max_user_namespaces / AppArmor)";
}

bool privileged_id_map() { return ::geteuid() == 0; }

uint32_t unique_id_map_base() {
  return kDefaultIdMapBase + 65536u * (16u + static_cast<uint32_t>(::getpid()) % 2048u);
}

void NativeTest::SetUp() {
  const std::string reason = sandbox_unavailable_reason();
  if (!reason.empty()) GTEST_SKIP() << reason;
}

void LeakCheckedTest::SetUp() {
  NativeTest::SetUp();
  if (IsSkipped()) return;
  mounts_before_ = counted_mounts();
  procs_before_ = pids_with_host_uid(sandbox_host_uid()).size();
}

void LeakCheckedTest::TearDown() {
  if (IsSkipped()) return;
  // A sandbox process the kernel is still tearing down (its cmdline already empty) is not a leak:
  // it gets a moment to be gone; one that stays is reported.
  auto left = pids_with_host_uid(sandbox_host_uid());
  const auto grace = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  while (left.size() > procs_before_ && std::chrono::steady_clock::now() < grace) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    left = pids_with_host_uid(sandbox_host_uid());
  }
  std::string who;
  for (pid_t pid : left) {
    for (const auto& a : cmdline_of(pid)) who += a + " ";
    who += "| ";
  }
  EXPECT_EQ(left.size(), procs_before_)
      << "processes with host uid " << sandbox_host_uid() << " left behind: " << who;
  if (privileged_id_map()) {
    EXPECT_EQ(left.size(), 0u) << "sandbox processes left behind: " << who;
  }
  EXPECT_EQ(counted_mounts(), mounts_before_) << "the host's mount table changed";
  // A leak is reported once; it must not also fail the tests that come after this one.
  if (!left.empty()) kill_leftovers();
}

void LeakCheckedTest::kill_leftovers() const {
  if (!privileged_id_map()) return;
  for (pid_t pid : pids_with_host_uid(sandbox_host_uid())) ::kill(pid, SIGKILL);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (!pids_with_host_uid(sandbox_host_uid()).empty() &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

size_t LeakCheckedTest::counted_mounts() const { return host_mount_count(); }

long LeakCheckedTest::sandbox_host_uid() const {
  // Without root the sandbox uid is mapped to our own uid (or a subordinate range), and
  // counting our own uid's processes says nothing; only count with a privileged map.
  return privileged_id_map() ? static_cast<long>(base_) + kSandboxUid : -2;
}

Options LeakCheckedTest::options() const {
  Options o;
  o.native.id_map_base = base_;
  return o;
}

}  // namespace isol8::test
