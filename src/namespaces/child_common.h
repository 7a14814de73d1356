#pragma once
// Helpers shared by the sandbox's init (child_init.cc) and its session loop (child_session.cc).
// All of them run between clone3 and execve: no allocation, no logging, no exceptions.

#include <linux/filter.h>
#include <sys/types.h>

#include <cerrno>
#include <cstddef>

#include "namespaces/child_report.h"

namespace isol8::child {

// The sync (one-shot) or control (session) socket, SOCK_SEQPACKET.
inline constexpr int kSyncFd = 3;
inline constexpr int kSetupStdoutFd = 4;
inline constexpr int kSetupStderrFd = 5;

// One report to the parent; a failed send can only mean the parent is gone.
void send_message(const ChildMessage& msg);

// Reports {step, errno} and _exits with 127.
[[noreturn]] void fail(ChildStep step, int err = errno);

inline void check(bool ok, ChildStep step) {
  if (!ok) fail(step);
}

void write_all(int fd, const char* data, size_t size, ChildStep step);
// Creates (or truncates) a file without following a final symlink; `mode` survives the umask.
void create_file(const char* path, const char* data, size_t size, mode_t mode, ChildStep step);
// Creates the directories of an absolute path: all of its components, or all but the last.
void make_directories(const char* target, bool include_last, ChildStep step);

// Default dispositions for every signal and an empty mask.
void reset_signals();
// Makes the calling process the OOM killer's first choice; dumpable only while it writes its
// oom_score_adj, and not dumpable when it returns (see the .cc).
void raise_oom_score();

// Resets signals, raises the OOM score, loads the seccomp filter (null: none) and execs.
[[noreturn]] void exec_program(const sock_fprog* seccomp, const char* path, char* const* argv,
                               char* const* envp);

// Starts the program (exec_program in a child) the way posix_spawn does: the child shares our
// memory and runs on a stack of its own until its execve, and we wait until then. Init is a
// copy of the whole runner, whose page tables a fork() would copy only for execve to drop them.
// Only while no other process of the sandbox lives: for a few instructions before the execve
// the shared memory is dumpable (raise_oom_score). Returns the pid, or -1.
pid_t spawn_program(const sock_fprog* seccomp, const char* path, char* const* argv,
                    char* const* envp);

// fork() without glibc's atfork handling (see the .cc).
pid_t raw_fork();

// Reaps until `child` exits (init adopts every orphan, so others come by too).
int wait_for(pid_t child);

}  // namespace isol8::child
