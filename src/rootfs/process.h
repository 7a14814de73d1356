#pragma once
// Runs a build step (debootstrap, a recipe under unshare/chroot, cp) as a child process whose
// output goes to the build log, and that a signal on `cancel_fd` (Ctrl-C) stops: the child's
// whole process group gets SIGTERM, then SIGKILL.

#include <functional>
#include <string>
#include <vector>

#include "isol8/result.h"

namespace isol8::rootfs {

struct StepCommand {
  std::vector<std::string> argv;       // argv[0] is looked up in PATH
  std::vector<std::string> extra_env;  // KEY=VALUE, on top of this process's environment
  int log_fd = -1;                     // stdout and stderr; -1: /dev/null
  int cancel_fd = -1;                  // readable = cancel; -1: none
  std::function<void()> tick;          // called about once a second while the step runs
};

// The step's exit status (0 on success), or an Error; a cancelled step is an Error with code
// ECANCELED.
Result<int> run_step(const StepCommand& command);

}  // namespace isol8::rootfs
