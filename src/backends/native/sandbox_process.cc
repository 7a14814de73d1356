#include "backends/native/sandbox_process.h"

#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "namespaces/clone.h"

#ifndef P_PIDFD
#define P_PIDFD 3
#endif

namespace isol8 {

SandboxProcess::~SandboxProcess() {
  if (!pidfd_ || reaped_) return;
  kill();
  siginfo_t info{};
  while (::waitid(static_cast<idtype_t>(P_PIDFD), pidfd_.get(), &info, WEXITED) != 0 &&
         errno == EINTR) {
  }
}

void SandboxProcess::kill() {
  if (!reaped_) (void)pidfd_kill(pidfd_.get(), SIGKILL);
}

void SandboxProcess::release() {
  pidfd_.reset();
  pipes_ = SandboxPipes{};
}

bool SandboxProcess::try_reap() {
  if (reaped_) return true;
  siginfo_t info{};
  // The raw syscall, because only it also returns the rusage of the reaped process.
  if (::syscall(SYS_waitid, P_PIDFD, pidfd_.get(), &info, WEXITED | WNOHANG, &usage_) != 0) {
    // ECHILD: a caller that ignores SIGCHLD has the kernel reap its children itself. init is
    // gone all the same (its report on the sync socket still tells how the program ended).
    if (errno != ECHILD) return false;
    reaped_ = true;
    return true;
  }
  reaped_ = info.si_pid != 0;
  return reaped_;
}

}  // namespace isol8
