#pragma once
// The command loop of a session sandbox's init (see session_protocol.h). Runs in the child, with
// the same rules as child_init.cc: no allocation, no logging, no exceptions.

#include "namespaces/child_spec.h"

namespace isol8 {

// Entered by init once the root is built and its privileges are dropped (it is the sandbox user
// with no capabilities, non-dumpable). Serves commands until the runner's end of the control
// socket closes, then exits, which ends the sandbox. Never returns.
[[noreturn]] void run_session_loop(const ChildSpec& spec);

}  // namespace isol8
