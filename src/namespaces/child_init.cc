// Runs in the sandbox child between clone3 and execve: no allocation, no logging, no exceptions.
// Step numbers refer to the native spawn sequence in docs/design.md.

#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <linux/seccomp.h>
#include <linux/securebits.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "namespaces/child_common.h"
#include "namespaces/child_mounts.h"
#include "namespaces/child_report.h"
#include "namespaces/child_session.h"
#include "namespaces/child_spec.h"

namespace isol8 {
namespace {

using namespace child;

// Raw system calls for the id changes: glibc's wrappers broadcast them to every thread the
// runner had (its setxid protocol), and in this single-threaded copy those threads do not
// exist, so the wrapper would wait for them forever.
int raw_setresuid(uid_t r, uid_t e, uid_t s) {
  return static_cast<int>(::syscall(SYS_setresuid, r, e, s));
}
int raw_setresgid(gid_t r, gid_t e, gid_t s) {
  return static_cast<int>(::syscall(SYS_setresgid, r, e, s));
}
int raw_setgroups(size_t n, const gid_t* groups) {
  return static_cast<int>(::syscall(SYS_setgroups, n, groups));
}

// Step 10: loopback is the only interface of a fresh network namespace, and it starts down.
void bring_up_loopback() {
  int sock = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  check(sock >= 0, ChildStep::kLoopbackUp);
  struct ifreq ifr;
  std::memset(&ifr, 0, sizeof ifr);
  std::memcpy(ifr.ifr_name, "lo", 3);
  check(::ioctl(sock, SIOCGIFFLAGS, &ifr) == 0, ChildStep::kLoopbackUp);
  ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
  check(::ioctl(sock, SIOCSIFFLAGS, &ifr) == 0, ChildStep::kLoopbackUp);
  ::close(sock);
}

// Step 11: the privilege drop, in minijail's order: bounding set, securebits, groups, gid, uid,
// capabilities, no_new_privs. Seccomp comes last, in the program's process.
void drop_privileges(const ChildSpec& spec) {
  for (int cap = 0; cap <= spec.last_capability; ++cap) {
    check(cap_drop_bound(static_cast<cap_value_t>(cap)) == 0 || errno == EINVAL,
          ChildStep::kDropBoundingSet);
  }
  // Locked: root inside gains nothing by uid 0, setuid keeps no capabilities, ambient stays empty.
  const unsigned bits = SECBIT_NOROOT | SECBIT_NOROOT_LOCKED | SECBIT_NO_SETUID_FIXUP |
                        SECBIT_NO_SETUID_FIXUP_LOCKED | SECBIT_KEEP_CAPS_LOCKED |
                        SECBIT_NO_CAP_AMBIENT_RAISE | SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED;
  check(cap_set_secbits(bits) == 0, ChildStep::kSetSecurebits);
  if (spec.full_id_range) {
    const gid_t groups[1] = {spec.gid};
    check(raw_setgroups(1, groups) == 0, ChildStep::kSetGroups);
  }
  check(raw_setresgid(spec.gid, spec.gid, spec.gid) == 0, ChildStep::kSetGid);
  check(raw_setresuid(spec.uid, spec.uid, spec.uid) == 0, ChildStep::kSetUid);
  check(::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) == 0,
        ChildStep::kClearCapabilities);
  check(cap_set_proc(spec.empty_caps) == 0, ChildStep::kClearCapabilities);
  check(::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0, ChildStep::kNoNewPrivs);
}

// Creates the working directory (and its parents) inside /sandbox, as the sandbox user.
void enter_workdir(const char* workdir) {
  make_directories(workdir, /*include_last=*/true, ChildStep::kWorkdir);
  check(::chdir(workdir) == 0, ChildStep::kWorkdir);
}

// The request's files, as the sandbox user, into the fresh /sandbox tmpfs: nothing untrusted
// has run yet, and O_NOFOLLOW refuses a symlink even so.
void inject_files(const ChildSpec& spec) {
  for (size_t i = 0; i < spec.file_count; ++i) {
    const ChildFile& f = spec.files[i];
    make_directories(f.path, /*include_last=*/false, ChildStep::kInjectFile);
    create_file(f.path, f.data, f.size, f.mode & 0777, ChildStep::kInjectFile);
  }
}

// A setup step's process: stdin from /dev/null, output on the setup pipes.
[[noreturn]] void exec_setup(const ChildSpec& spec, const SetupStep& step) {
  const int null = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (null < 0 || ::dup2(null, 0) < 0 || ::dup2(kSetupStdoutFd, 1) < 0 ||
      ::dup2(kSetupStderrFd, 2) < 0) {
    fail(ChildStep::kFork);
  }
  exec_program(spec.seccomp, step.path, step.argv, step.envp);
}

// Runs the setup steps one after the other and reports each one's status; returns only when all
// of them succeeded.
void run_setup_phase(const ChildSpec& spec) {
  for (size_t i = 0; i < spec.setup_step_count; ++i) {
    const pid_t setup = raw_fork();
    if (setup < 0) fail(ChildStep::kFork);
    if (setup == 0) exec_setup(spec, spec.setup_steps[i]);
    ChildMessage done;
    done.kind = ChildMessage::kSetupExited;
    done.step = static_cast<uint32_t>(i);
    done.wait_status = wait_for(setup);
    if (i + 1 == spec.setup_step_count || done.wait_status != 0) {
      // The phase is over: the runner sees EOF on its pipes once the steps' leftovers are gone.
      ::close(kSetupStdoutFd);
      ::close(kSetupStderrFd);
    }
    send_message(done);
    if (done.wait_status != 0) _exit(0);  // the program does not run; the namespace dies with us
  }
}

// Moves the inherited descriptors to 0-3 and closes everything else. Each is first copied above
// the target range, so that no move can overwrite a descriptor still to be moved.
void arrange_fds(const ChildSpec& spec) {
  const int sync = ::fcntl(spec.sync_fd, F_DUPFD_CLOEXEC, 10);
  const int in = ::fcntl(spec.stdin_fd, F_DUPFD_CLOEXEC, 10);
  const int out = ::fcntl(spec.stdout_fd, F_DUPFD_CLOEXEC, 10);
  const int err = ::fcntl(spec.stderr_fd, F_DUPFD_CLOEXEC, 10);
  const bool setup = spec.setup_stdout_fd >= 0;
  const int setup_out = setup ? ::fcntl(spec.setup_stdout_fd, F_DUPFD_CLOEXEC, 10) : -1;
  const int setup_err = setup ? ::fcntl(spec.setup_stderr_fd, F_DUPFD_CLOEXEC, 10) : -1;
  const bool relay = spec.relay_exe_fd >= 0;
  const int relay_exe = relay ? ::fcntl(spec.relay_exe_fd, F_DUPFD_CLOEXEC, 10) : -1;
  const int proxy_socket = relay ? ::fcntl(spec.proxy_socket_fd, F_DUPFD_CLOEXEC, 10) : -1;
  if (sync < 0 || ::dup3(sync, kSyncFd, O_CLOEXEC) < 0) _exit(127);
  if (in < 0 || out < 0 || err < 0) fail(ChildStep::kWaitForParent);
  if (::dup2(in, 0) < 0 || ::dup2(out, 1) < 0 || ::dup2(err, 2) < 0) {
    fail(ChildStep::kWaitForParent);
  }
  // Close-on-exec: the program never holds the setup phase's pipes.
  if (setup &&
      (setup_out < 0 || setup_err < 0 || ::dup3(setup_out, kSetupStdoutFd, O_CLOEXEC) < 0 ||
       ::dup3(setup_err, kSetupStderrFd, O_CLOEXEC) < 0)) {
    fail(ChildStep::kWaitForParent);
  }
  if (relay) {
    if (relay_exe < 0 || proxy_socket < 0 || ::dup3(relay_exe, kRelayExeFd, O_CLOEXEC) < 0 ||
        ::dup3(proxy_socket, kProxySocketFd, O_CLOEXEC) < 0) {
      fail(ChildStep::kWaitForParent);
    }
    if (!setup) {  // the slots between are not ours: whatever the runner had there goes
      ::close(kSetupStdoutFd);
      ::close(kSetupStderrFd);
    }
    ::close_range(kProxySocketFd + 1, ~0U, 0);
    return;
  }
  ::close_range(setup ? kSetupStderrFd + 1 : kSyncFd + 1, ~0U, 0);
}

// The relay's process: stdio on /dev/null (it must never hold the program's pipes, or the runner
// would wait for it), the listening socket and the proxy socket's descriptor kept open across
// exec, the seccomp filter, then isol8-relay from the runner's descriptor. Every failure is
// reported to init on `status_fd` (close-on-exec: EOF there means the exec succeeded).
[[noreturn]] void exec_relay(const ChildSpec& spec, int status_fd) {
  static char* const kNoEnvironment[] = {nullptr};
  reset_signals();
  const int null = ::open("/dev/null", O_RDWR | O_CLOEXEC);
  bool ok = null >= 0 && ::dup2(null, 0) >= 0 && ::dup2(null, 1) >= 0 && ::dup2(null, 2) >= 0 &&
            ::fcntl(kRelayListenFd, F_SETFD, 0) == 0 && ::fcntl(kProxySocketFd, F_SETFD, 0) == 0;
  if (ok) {
    raise_oom_score();
    ok = spec.seccomp == nullptr ||
         ::prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, spec.seccomp, 0, 0) == 0;
  }
  if (ok) {
    ::syscall(SYS_execveat, kRelayExeFd, "", spec.relay_argv, kNoEnvironment, AT_EMPTY_PATH);
  }
  const int err = errno;
  (void)::write(status_fd, &err, sizeof err);
  _exit(127);
}

// Step 11b (relay mode): listen on 127.0.0.1:<relay_port> as the sandbox user, so that the port
// is open before the setup script or the program runs (no race, and nothing else can take it),
// and start the relay on that socket. Returns once the relay runs; init keeps none of its
// descriptors, so the relay is their only holder. The relay is init's child like every other
// process of the sandbox, and dies with it.
void start_relay(const ChildSpec& spec) {
  const int listener = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  check(listener >= 0, ChildStep::kStartRelay);
  struct sockaddr_in addr;
  std::memset(&addr, 0, sizeof addr);
  addr.sin_family = AF_INET;
  addr.sin_port = htons(spec.relay_port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  check(::bind(listener, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0,
        ChildStep::kStartRelay);
  check(::listen(listener, 128) == 0, ChildStep::kStartRelay);
  if (listener != kRelayListenFd) {
    check(::dup3(listener, kRelayListenFd, O_CLOEXEC) >= 0, ChildStep::kStartRelay);
    ::close(listener);
  }
  int status[2];
  check(::pipe2(status, O_CLOEXEC) == 0, ChildStep::kStartRelay);
  const pid_t relay = raw_fork();
  check(relay >= 0, ChildStep::kStartRelay);
  if (relay == 0) exec_relay(spec, status[1]);
  ::close(status[1]);
  int err = 0;
  ssize_t n;
  do {
    n = ::read(status[0], &err, sizeof err);
  } while (n < 0 && errno == EINTR);
  ::close(status[0]);
  if (n > 0) fail(ChildStep::kStartRelay, err);
  ::close(kRelayListenFd);
  ::close(kProxySocketFd);
  ::close(kRelayExeFd);
}

}  // namespace

void run_sandbox_init(const ChildSpec& spec) {
  // Step 6: die with the runner; then wait for "go" (the parent writes our id maps meanwhile).
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  // Into the sandbox's cgroup (v1) before anything else, by moving ourselves: see
  // ChildSpec::cgroup_join_fds. The failure is reported once the sync socket is in place.
  int join_error = 0;
  for (size_t i = 0; i < spec.cgroup_join_count; ++i) {
    if (join_error == 0 && ::write(spec.cgroup_join_fds[i], "0", 1) != 1) join_error = errno;
    ::close(spec.cgroup_join_fds[i]);
  }
  arrange_fds(spec);
  if (join_error != 0) fail(ChildStep::kJoinCgroup, join_error);
  // Init is a copy of the runner: drop the runner's signal handlers (a signal the program sends
  // to pid 1 must not run runner code in here) and an inherited SIG_IGN for SIGCHLD (which would
  // make the kernel reap the program before init can collect its status).
  reset_signals();
  // The runner's command line and environment are still in this copy's memory, where the
  // program could read them through /proc/1/cmdline: wipe them (init never reads them).
  if (spec.runner_args_begin != nullptr) {
    std::memset(spec.runner_args_begin, 0, spec.runner_args_size);
  }
  char go = 0;
  if (::recv(kSyncFd, &go, 1, 0) != 1) _exit(127);  // the parent is gone or gave up
  // The cgroup namespace is made now, after the parent has moved us into our cgroup (v1), so
  // that the sandbox sees its own cgroup as the root.
  check(::unshare(CLONE_NEWCGROUP) == 0, ChildStep::kUnshareCgroup);

  // Act as root of the new user namespace, so that files we create have a mapped owner. In a
  // single-id map our own id is already the mapped one (the sandbox user).
  if (spec.full_id_range) {
    check(raw_setresgid(0, 0, 0) == 0, ChildStep::kSetGid);
    check(raw_setresuid(0, 0, 0) == 0, ChildStep::kSetUid);
  }

  build_root(*spec.mounts);
  if (spec.report_mounted) {
    ChildMessage mounted;
    mounted.kind = ChildMessage::kMounted;
    send_message(mounted);
  }
  if (spec.hostname != nullptr) {
    check(::sethostname(spec.hostname, std::strlen(spec.hostname)) == 0, ChildStep::kSetHostname);
  }
  if (spec.bring_up_loopback) bring_up_loopback();
  const struct rlimit no_core = {0, 0};
  check(::setrlimit(RLIMIT_CORE, &no_core) == 0, ChildStep::kSetRlimit);

  drop_privileges(spec);
  // The kernel clears the parent-death signal on every credential change: arm it again, then
  // make sure the runner did not die in between (its end of the sync socket would be closed).
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  char probe = 0;
  if (::recv(kSyncFd, &probe, 1, MSG_PEEK | MSG_DONTWAIT) == 0) _exit(127);
  if (!spec.session) {
    inject_files(spec);
    enter_workdir(spec.workdir);
    if (spec.code_path != nullptr) {
      create_file(spec.code_path, spec.code_data, spec.code_size, 0644, ChildStep::kWriteCode);
    }
  } else {
    check(::chdir("/sandbox") == 0, ChildStep::kWorkdir);
  }

  // No one may ptrace or inspect this init; the programs regain dumpability through execve.
  ::prctl(PR_SET_DUMPABLE, 0);
  if (spec.relay_exe_fd >= 0) start_relay(spec);
  if (spec.session) run_session_loop(spec);
  if (spec.setup_step_count > 0) run_setup_phase(spec);
  pid_t program;
  if (spec.setup_step_count == 0 && spec.relay_exe_fd < 0) {
    // Init is the sandbox's only process (see spawn_program).
    program = spawn_program(spec.seccomp, spec.exec_path, spec.argv, spec.envp);
  } else {
    program = raw_fork();
    if (program == 0) exec_program(spec.seccomp, spec.exec_path, spec.argv, spec.envp);
  }
  if (program < 0) fail(ChildStep::kFork);

  // Init keeps no copy of the program's stdio, so the parent sees EOF when the program's
  // processes are gone.
  ::close(0);
  ::close(1);
  ::close(2);
  ChildMessage exited;
  exited.kind = ChildMessage::kExited;
  exited.wait_status = wait_for(program);
  send_message(exited);
  // Returning from pid 1 makes the kernel kill whatever the program left running.
  _exit(0);
}

}  // namespace isol8
