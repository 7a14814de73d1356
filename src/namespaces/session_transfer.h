#pragma once
// A session's file transfer, inside the sandbox (child_session.cc's init calls it for a kOpen
// command): the file opened as the sandbox user beneath /sandbox or /tmp, never following a
// symbolic link out of it or a magic link. Between clone3 and execve rules: no allocation.

#include "namespaces/session_protocol.h"

namespace isol8 {

// Opens cmd.path (NUL-terminated here) for reading, or for writing with its parents created and
// cmd.mode applied; 0 and the descriptor in `out`, or the errno that refused it (EXDEV: outside
// /sandbox and /tmp; kNotRegularFile: not a regular file).
int open_for_transfer(SessionCommand& cmd, int& out);

}  // namespace isol8
