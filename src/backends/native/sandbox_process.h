#pragma once
// The parent's handle on a running sandbox: its init's pidfd and the parent ends of the stdio
// pipes and sync socket. Killing init ends the whole pid namespace, so the destructor's kill and
// reap leave no process behind on any error path.

#include <sys/resource.h>
#include <sys/types.h>

#include "common/unique_fd.h"
#include "isol8/result.h"

namespace isol8 {

struct SandboxPipes {
  UniqueFd stdin_write;
  UniqueFd stdout_read;
  UniqueFd stderr_read;
  UniqueFd sync;               // SOCK_SEQPACKET: child reports, and our "go"
  UniqueFd setup_stdout_read;  // with a setup phase only
  UniqueFd setup_stderr_read;
};

class SandboxProcess {
 public:
  SandboxProcess(pid_t pid, UniqueFd pidfd, SandboxPipes pipes)
      : pid_(pid), pidfd_(std::move(pidfd)), pipes_(std::move(pipes)) {}
  SandboxProcess(SandboxProcess&&) = default;
  ~SandboxProcess();

  pid_t pid() const { return pid_; }
  int pidfd() const { return pidfd_.get(); }
  SandboxPipes& pipes() { return pipes_; }

  void kill();
  // Lets init go on without us (a kept sandbox, Options::persist): the destructor then neither
  // kills nor waits for it, and our ends of its pipes and socket are closed.
  void release();
  // Collects the exit status of init; returns false if it has not exited.
  bool try_reap();
  bool reaped() const { return reaped_; }
  // Resource usage of init and everything it reaped: the whole sandbox, since init reaps every
  // orphan and the kernel reaps the rest into it when it exits. Valid once reaped.
  const struct rusage& usage() const { return usage_; }

 private:
  pid_t pid_;
  UniqueFd pidfd_;
  SandboxPipes pipes_;
  bool reaped_ = false;
  struct rusage usage_ {};
};

}  // namespace isol8
