#pragma once
// The control protocol between the runner and a session sandbox's init (child_session.cc), over
// the SOCK_SEQPACKET socket that is the one-shot run's sync socket. Plain structs of integers,
// so that init reads and writes them without allocating.
//
// runner -> init (SessionCommand):
//   kExec   + SCM_RIGHTS {exec block memfd, stdin, stdout, stderr[, setup stdout, setup stderr]}:
//           start one execution. Init forks a keeper for it, which runs the setup steps in order
//           (package installs, then the setup script), reporting kSetupExited {step index, status}
//           for each until one fails, then kExited (the program's status) or kFailure {step,
//           errno}; init then reports kExecutionEnded once the keeper is gone. Nothing else runs
//           meanwhile.
//   kKill   end the running execution's processes (timeout, cancel); never the session.
//   kOpen   open a file under /sandbox or /tmp as the sandbox user: init answers kOpened with the
//           descriptor (SCM_RIGHTS) or with the errno that refused it.
//   kDetach (Options::persist) the sandbox outlives the runner: init answers kDetached (error: 0,
//           or the errno that refused it) and from then on the socket's EOF no longer ends it;
//           it stays, idle, until `seconds` have passed or it is sent SIGTERM or SIGKILL from
//           outside the sandbox, then exits, which ends the pid namespace.
// init -> runner (ChildMessage): kReady once, when the loop starts; then the replies above.

#include <cstddef>
#include <cstdint>

namespace isol8 {

// kOpened's error when the path names something other than a regular file (FIFO, socket, ...).
inline constexpr int32_t kNotRegularFile = 0x10000;

struct SessionCommand {
  enum Kind : uint32_t { kExec = 1, kKill = 2, kOpen = 3, kDetach = 4 };
  enum OpenFlags : uint32_t { kRead = 0, kWrite = 1 };
  static constexpr size_t kMaxPath = 4096;

  uint32_t kind = 0;
  uint32_t flags = 0;  // kOpen: kRead or kWrite
  uint32_t mode = 0;   // kOpen with kWrite: the permission bits of the file
  uint32_t path_size = 0;
  uint32_t seconds = 0;      // kDetach: how long the sandbox stays after its runner is gone (> 0)
  char path[kMaxPath] = {};  // kOpen: absolute, normalised, under /sandbox or /tmp; no NUL
};

// One execution, laid out by the runner in a memfd that the keeper maps privately. Every
// "pointer" field holds an offset from the block's start; the keeper adds the mapping's base in
// place (pointer arrays end with a 0 offset, which becomes the null pointer), so nothing is
// allocated. Offsets are checked against `size`.
struct ExecBlockFile {
  uint64_t path = 0;  // offset of a NUL-terminated absolute path
  uint64_t data = 0;  // offset of the bytes
  uint64_t size = 0;
  uint64_t mode = 0;  // permission bits
};

// One setup step: its argv (argv[0] is the path) and its environment.
struct ExecBlockStep {
  uint64_t argv = 0;  // offset of uint64_t offsets, 0-terminated
  uint64_t envp = 0;  // likewise
};

struct ExecBlock {
  static constexpr uint64_t kMagic = 0x6973306c38657865ull;  // "isol8exe"
  uint64_t magic = kMagic;
  uint64_t size = 0;              // of the whole block
  uint64_t argv = 0;              // offset of uint64_t offsets, 0-terminated; argv[0] is the path
  uint64_t envp = 0;              // likewise
  uint64_t setup_steps = 0;       // offset of ExecBlockStep[setup_step_count], run in order
  uint64_t setup_step_count = 0;  // 0: no setup phase
  uint64_t workdir = 0;           // offset of the working directory (created with its parents)
  uint64_t files = 0;             // offset of ExecBlockFile[file_count], written before any phase
  uint64_t file_count = 0;
};

static_assert(sizeof(uint64_t) == sizeof(char*), "offsets are relocated into pointers in place");

}  // namespace isol8
