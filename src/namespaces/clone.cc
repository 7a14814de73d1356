#include "namespaces/clone.h"

#include <linux/sched.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstring>

namespace isol8 {

Result<CloneResult> clone_with_pidfd(uint64_t flags, int cgroup_fd) {
  int pidfd = -1;
  struct clone_args args;
  std::memset(&args, 0, sizeof args);
  args.flags = flags | CLONE_PIDFD;
  args.pidfd = reinterpret_cast<uint64_t>(&pidfd);
  args.exit_signal = SIGCHLD;
  if (cgroup_fd >= 0) {
    args.flags |= CLONE_INTO_CGROUP;
    args.cgroup = static_cast<uint64_t>(cgroup_fd);
  }
  const long pid = ::syscall(SYS_clone3, &args, sizeof args);
  if (pid < 0) return errno_error("clone3");
  CloneResult result;
  result.pid = static_cast<pid_t>(pid);
  if (pid > 0) result.pidfd.reset(pidfd);
  return result;
}

Result<void> pidfd_kill(int pidfd, int sig) {
  if (::syscall(SYS_pidfd_send_signal, pidfd, sig, nullptr, 0) != 0 && errno != ESRCH) {
    return errno_error("pidfd_send_signal");
  }
  return ok();
}

}  // namespace isol8
