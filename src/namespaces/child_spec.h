#pragma once
// Everything the sandbox's init process needs, computed by the parent before clone3 so that the
// child never allocates, logs or throws. Pointers refer to storage owned by the parent's
// SpawnPlan, which the child sees as a copy-on-write snapshot.

#include <linux/filter.h>
#include <sys/capability.h>
#include <sys/types.h>

#include <cstddef>
#include <cstdint>

#include "common/sandbox_user.h"
#include "namespaces/mount_plan.h"

namespace isol8 {

// The filtered network without a veth (the relay mode): init listens on 127.0.0.1:<relay_port>
// itself, before the program exists, and hands the listening socket to isol8-relay, which it
// starts as the sandbox user; the relay carries each connection to the filtering proxy's Unix
// socket. Both the relay binary and the socket are reached through O_PATH descriptors the runner
// opened, so that neither has to be visible in the sandbox's filesystem and the runner's private
// (0700) directory need not be searchable by the sandbox's ids. Init moves them to these numbers.
inline constexpr int kRelayExeFd = 6;
inline constexpr int kProxySocketFd = 7;
inline constexpr int kRelayListenFd = 8;

// A file init writes into the sandbox (parents created) before any program runs.
struct ChildFile {
  const char* path = nullptr;  // absolute, normalised, under /sandbox
  const char* data = nullptr;
  size_t size = 0;
  mode_t mode = 0644;  // permission bits
};

// One command of the setup phase, exec'd as it is (no shell), with its own environment.
struct SetupStep {
  const char* path = nullptr;
  char* const* argv = nullptr;
  char* const* envp = nullptr;
};

struct ChildSpec {
  const MountPlan* mounts = nullptr;
  const char* hostname = nullptr;  // null: keep the UTS name
  bool bring_up_loopback = true;
  // Report ChildMessage::kMounted once the root is built (a one-shot sandbox whose runner waits
  // for that; the others skip the message and the runner's wakeup).
  bool report_mounted = false;
  uid_t uid = kSandboxUid;
  gid_t gid = kSandboxGid;
  // False in a single-id (rootless) map: the child cannot become root of its namespace and
  // setgroups() is denied, so both steps are skipped.
  bool full_id_range = true;
  int last_capability = 40;             // highest capability number the kernel knows
  cap_t empty_caps = nullptr;           // an empty capability set from cap_init()
  const sock_fprog* seccomp = nullptr;  // loaded last, just before execve; null: none

  // The runner's argv+environ block (arg_start..env_end of /proc/self/stat), wiped by init.
  char* runner_args_begin = nullptr;
  size_t runner_args_size = 0;

  const char* workdir = "/sandbox";
  const char* code_path = nullptr;  // written (as the sandbox user) before exec, when set
  const char* code_data = nullptr;
  size_t code_size = 0;

  const ChildFile* files = nullptr;  // written as the sandbox user, before the code file
  size_t file_count = 0;

  // The setup phase: its commands (package installs, then the setup script) run one after the
  // other to completion (stdin /dev/null, output on the setup pipes) before the program; each
  // one's status is reported, and a non-zero one ends the sandbox without running the rest.
  const SetupStep* setup_steps = nullptr;
  size_t setup_step_count = 0;

  const char* exec_path = nullptr;
  char* const* argv = nullptr;
  char* const* envp = nullptr;

  // The relay mode (see kRelayExeFd): O_PATH descriptors of isol8-relay and of the proxy's
  // socket, the loopback port to listen on, and the relay's argv (naming kRelayListenFd and
  // /proc/self/fd/<kProxySocketFd>). relay_exe_fd < 0: no relay.
  int relay_exe_fd = -1;
  int proxy_socket_fd = -1;
  uint16_t relay_port = 0;
  char* const* relay_argv = nullptr;

  // A persistent session: after the privilege drop init writes no file and runs no program; it
  // serves the runner's commands on the control socket (child_session.h) until it closes.
  bool session = false;

  // cgroup v1: the `tasks` files of the sandbox's cgroup (Cgroup::open_self_join_files), to
  // which init writes "0" first thing, moving itself in without the kernel's global lock; init
  // closes them. None: the parent moved it (or clone3 put it there, on v2).
  const int* cgroup_join_fds = nullptr;
  size_t cgroup_join_count = 0;

  // Descriptors the child inherits; init moves them to 0, 1, 2 and 3.
  int stdin_fd = -1;
  int stdout_fd = -1;
  int stderr_fd = -1;
  int sync_fd = -1;
  int setup_stdout_fd = -1;  // with a setup phase; init moves them to 4 and 5
  int setup_stderr_fd = -1;
};

// The body of the sandbox's pid 1: waits for the parent's "go", builds the root, drops every
// privilege, forks the program and reaps until the program exits, then reports its wait status.
// Failures are reported as {step, errno} on the sync socket. Never returns.
[[noreturn]] void run_sandbox_init(const ChildSpec& spec);

}  // namespace isol8
