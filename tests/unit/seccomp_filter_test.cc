// Loads compiled filters for real, in forked children (no root needed after no_new_privs), and
// checks what the default profile lets through. Every denied call uses arguments that would be
// harmless if the filter let it through, since these tests may run as root.

#include <fcntl.h>
#include <ifaddrs.h>
#include <linux/keyctl.h>
#include <linux/netlink.h>
#include <linux/sched.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <spawn.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/timex.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <functional>
#include <string>

#include <fmt/format.h>

#include "seccomp/compiler.h"
#include "seccomp/policy.h"
#include "seccomp/profile.h"

extern char** environ;

namespace isol8 {
namespace {

constexpr int kMarkerErrno = 3999;  // never returned by the kernel itself

struct ChildOutcome {
  bool exited = false;
  int code = -1;
  int signal = 0;
  std::string message;  // what the child reported on failure
};

// Forks; the child loads `program` and runs `body`, which returns "" on success or what went
// wrong. The child never returns into the test runner.
ChildOutcome run_filtered(const SeccompProgram& program, const std::function<std::string()>& body) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return {};
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::close(fds[0]);
    ::prctl(PR_SET_DUMPABLE, 0);  // no core file when the filter kills us
    if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) _exit(90);
    if (::prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, program.fprog(), 0, 0) != 0) _exit(91);
    const std::string message = body();
    if (!message.empty()) {
      (void)!::write(fds[1], message.data(), message.size());
      _exit(1);
    }
    _exit(0);
  }
  ::close(fds[1]);
  ChildOutcome out;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(fds[0], buf, sizeof buf)) > 0) out.message.append(buf, n);
  ::close(fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  out.exited = WIFEXITED(status);
  out.code = out.exited ? WEXITSTATUS(status) : -1;
  out.signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
  return out;
}

SeccompProgram compile(const SeccompProfile& profile) {
  auto program = compile_seccomp_profile(profile);
  if (!program) ADD_FAILURE() << program.error().message;
  return program ? std::move(*program) : SeccompProgram({}, {});
}

SeccompProfile default_profile() {
  auto profile = parse_seccomp_profile(embedded_default_seccomp_profile());
  if (!profile) ADD_FAILURE() << profile.error().message;
  return profile ? std::move(*profile) : SeccompProfile{};
}

// The default profile with a default errno nothing else returns: proves a denial came from the
// filter and not from the kernel's own permission checks.
SeccompProfile marked_default_profile() {
  SeccompProfile profile = default_profile();
  profile.default_errno_ret = kMarkerErrno;
  return profile;
}

std::string expect_failure(const char* what, long rc, int expected_errno) {
  if (rc == -1 && errno == expected_errno) return "";
  return fmt::format("{}: returned {} errno {} ({}), expected errno {}\n", what, rc, errno,
                     std::strerror(errno), expected_errno);
}

// Raw clone(2) with `flags`; a child that does get created exits at once.
long raw_clone(unsigned long flags) {
  long rc = ::syscall(SYS_clone, flags | SIGCHLD, 0, 0, 0, 0);
  if (rc == 0) _exit(0);
  if (rc > 0) ::waitpid(static_cast<pid_t>(rc), nullptr, 0);
  return rc;
}

long raw_clone3() {
  struct clone_args args {};
  args.exit_signal = SIGCHLD;
  long rc = ::syscall(SYS_clone3, &args, sizeof args);
  if (rc == 0) _exit(0);
  if (rc > 0) ::waitpid(static_cast<pid_t>(rc), nullptr, 0);
  return rc;
}

// Every call the default profile denies, with arguments that do nothing if they get through.
std::string check_denied(int e) {
  const char* nowhere = "/nonexistent-isol8-seccomp-test";
  struct timex tx {};
  char ldt[16];
  std::string r;
  r += expect_failure("ptrace", ::ptrace(PTRACE_TRACEME, 0, nullptr, nullptr), e);
  r += expect_failure("process_vm_readv",
                      ::syscall(SYS_process_vm_readv, ::getpid(), nullptr, 0, nullptr, 0, 0), e);
  r += expect_failure("process_vm_writev",
                      ::syscall(SYS_process_vm_writev, ::getpid(), nullptr, 0, nullptr, 0, 0), e);
  r += expect_failure("pidfd_getfd", ::syscall(SYS_pidfd_getfd, -1, 0, 0), e);
  r += expect_failure("kcmp", ::syscall(SYS_kcmp, ::getpid(), ::getpid(), 0, 0, 0), e);
  r += expect_failure("keyctl",
                      ::syscall(SYS_keyctl, KEYCTL_GET_KEYRING_ID, KEY_SPEC_SESSION_KEYRING, 0), e);
  r += expect_failure(
      "add_key", ::syscall(SYS_add_key, "user", "isol8-test", "x", 1, KEY_SPEC_PROCESS_KEYRING), e);
  r += expect_failure("request_key", ::syscall(SYS_request_key, "user", "isol8-none", nullptr, 0),
                      e);
  r += expect_failure("bpf", ::syscall(SYS_bpf, -1, nullptr, 0), e);
  r += expect_failure("perf_event_open", ::syscall(SYS_perf_event_open, nullptr, 0, -1, -1, 0), e);
  r += expect_failure("userfaultfd", ::syscall(SYS_userfaultfd, O_CLOEXEC), e);
  r += expect_failure("io_uring_setup", ::syscall(SYS_io_uring_setup, 0, nullptr), e);
  r += expect_failure("io_uring_enter", ::syscall(SYS_io_uring_enter, -1, 0, 0, 0, nullptr, 0), e);
  r += expect_failure("io_uring_register", ::syscall(SYS_io_uring_register, -1, 0, nullptr, 0), e);
  r += expect_failure("mount", ::syscall(SYS_mount, nullptr, nowhere, nullptr, 0, nullptr), e);
  r += expect_failure("umount2", ::syscall(SYS_umount2, nowhere, 0), e);
  r += expect_failure("pivot_root", ::syscall(SYS_pivot_root, nowhere, nowhere), e);
  r += expect_failure("open_tree", ::syscall(SYS_open_tree, AT_FDCWD, nowhere, 0), e);
  r += expect_failure("move_mount", ::syscall(SYS_move_mount, -1, "", -1, "", 0), e);
  r += expect_failure("fsopen", ::syscall(SYS_fsopen, "isol8-no-such-fs", 0), e);
  r += expect_failure("fsmount", ::syscall(SYS_fsmount, -1, 0, 0), e);
  r += expect_failure("fsconfig", ::syscall(SYS_fsconfig, -1, 0, nullptr, nullptr, 0), e);
  r += expect_failure("fspick", ::syscall(SYS_fspick, -1, "", 0), e);
  r += expect_failure("mount_setattr", ::syscall(SYS_mount_setattr, -1, "", 0, nullptr, 0), e);
  r += expect_failure("chroot", ::syscall(SYS_chroot, nowhere), e);
  r += expect_failure("unshare", ::syscall(SYS_unshare, CLONE_NEWUSER), e);
  r += expect_failure("setns", ::syscall(SYS_setns, -1, 0), e);
  // Invalid flags: rejected before anything is loaded or unloaded, if the call got through.
  r += expect_failure("kexec_load", ::syscall(SYS_kexec_load, 0, 0, nullptr, 0xffff0000ul), e);
  r += expect_failure("kexec_file_load",
                      ::syscall(SYS_kexec_file_load, -1, -1, 0, "", 0xffff0000ul), e);
  r += expect_failure("init_module", ::syscall(SYS_init_module, nullptr, 0, ""), e);
  r += expect_failure("finit_module", ::syscall(SYS_finit_module, -1, "", 0), e);
  r += expect_failure("delete_module", ::syscall(SYS_delete_module, "isol8_none", O_NONBLOCK), e);
  r += expect_failure("swapon", ::syscall(SYS_swapon, nowhere, 0), e);
  r += expect_failure("swapoff", ::syscall(SYS_swapoff, nowhere), e);
  r += expect_failure("reboot", ::syscall(SYS_reboot, 0, 0, 0, nullptr), e);  // bad magic
  r += expect_failure("acct", ::syscall(SYS_acct, nowhere), e);
  r += expect_failure("settimeofday", ::syscall(SYS_settimeofday, nullptr, nullptr), e);
  r += expect_failure("clock_settime", ::syscall(SYS_clock_settime, CLOCK_REALTIME, nullptr), e);
  r += expect_failure("adjtimex", ::syscall(SYS_adjtimex, &tx), e);  // modes 0: read-only
  r += expect_failure("clock_adjtime", ::syscall(SYS_clock_adjtime, CLOCK_REALTIME, &tx), e);
  r += expect_failure("syslog", ::syscall(SYS_syslog, 10, nullptr, 0), e);
  r += expect_failure("modify_ldt", ::syscall(SYS_modify_ldt, 0, ldt, sizeof ldt), e);
  r += expect_failure("personality(ADDR_NO_RANDOMIZE)", ::personality(ADDR_NO_RANDOMIZE), e);
  r += expect_failure("socket(AF_VSOCK)", ::socket(AF_VSOCK, SOCK_STREAM, 0), e);
  r += expect_failure("socket(AF_PACKET)", ::socket(AF_PACKET, SOCK_RAW, 0), e);
  r += expect_failure("socket(AF_NETLINK, NETLINK_AUDIT)",
                      ::socket(AF_NETLINK, SOCK_RAW, NETLINK_AUDIT), e);
  r += expect_failure("clone(CLONE_NEWUSER)", raw_clone(CLONE_NEWUSER), e);
  r += expect_failure("clone(CLONE_NEWNET)", raw_clone(CLONE_NEWNET), e);
  r += expect_failure("clone(CLONE_NEWPID)", raw_clone(CLONE_NEWPID), e);
  // clone3's flags are out of seccomp's reach: ENOSYS, so that libc falls back to clone.
  r += expect_failure("clone3", raw_clone3(), ENOSYS);
  return r;
}

TEST(SeccompFilter, DeniedSyscallsFailWithEperm) {
  const SeccompProgram program = compile(default_profile());
  auto out = run_filtered(program, [] { return check_denied(EPERM); });
  EXPECT_TRUE(out.exited && out.code == 0)
      << "code " << out.code << " signal " << out.signal << "\n"
      << out.message;
}

TEST(SeccompFilter, DenialsComeFromTheFilter) {
  const SeccompProgram program = compile(marked_default_profile());
  auto out = run_filtered(program, [] { return check_denied(kMarkerErrno); });
  EXPECT_TRUE(out.exited && out.code == 0)
      << "code " << out.code << " signal " << out.signal << "\n"
      << out.message;
}

void* thread_body(void* arg) {
  *static_cast<int*>(arg) = 42;
  return nullptr;
}

std::string check_allowed() {
  std::string r;
  auto expect_ok = [&r](const char* what, long rc) {
    if (rc >= 0) return;
    r += fmt::format("{}: errno {} ({})\n", what, errno, std::strerror(errno));
  };
  auto close_if = [](long fd) {
    if (fd >= 0) ::close(static_cast<int>(fd));
  };
  expect_ok("getpid", ::getpid());
  // fork() is clone(2) without namespace flags.
  const pid_t child = ::fork();
  if (child == 0) _exit(7);
  expect_ok("fork", child);
  int status = 0;
  if (child > 0 && (::waitpid(child, &status, 0) != child || WEXITSTATUS(status) != 7)) {
    r += "fork: the child did not exit 7\n";
  }
  // glibc tries clone3 first, gets ENOSYS and falls back to clone(CLONE_VM | CLONE_THREAD ...).
  pthread_t thread;
  int value = 0;
  const int prc = ::pthread_create(&thread, nullptr, thread_body, &value);
  if (prc != 0) {
    r += fmt::format("pthread_create: {}\n", std::strerror(prc));
  } else if (::pthread_join(thread, nullptr) != 0 || value != 42) {
    r += "pthread: the thread did not run\n";
  }
  // posix_spawn: clone(CLONE_VM | CLONE_VFORK) after the clone3 attempt.
  pid_t spawned = -1;
  char arg0[] = "true";
  char* argv[] = {arg0, nullptr};
  const int src = ::posix_spawn(&spawned, "/bin/true", nullptr, nullptr, argv, environ);
  if (src != 0) {
    r += fmt::format("posix_spawn: {}\n", std::strerror(src));
  } else if (::waitpid(spawned, &status, 0) != spawned || !WIFEXITED(status) ||
             WEXITSTATUS(status) != 0) {
    r += "posix_spawn: /bin/true failed\n";
  }
  const long unix_fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  expect_ok("socket(AF_UNIX)", unix_fd);
  close_if(unix_fd);
  const long inet_fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  expect_ok("socket(AF_INET)", inet_fd);
  close_if(inet_fd);
  const long inet6_fd = ::socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (inet6_fd < 0 && errno != EAFNOSUPPORT) expect_ok("socket(AF_INET6)", inet6_fd);
  close_if(inet6_fd);
  const long nl_fd = ::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
  expect_ok("socket(AF_NETLINK, NETLINK_ROUTE)", nl_fd);
  close_if(nl_fd);
  int pair[2];
  expect_ok("socketpair", ::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair));
  struct ifaddrs* ifs = nullptr;
  expect_ok("getifaddrs", ::getifaddrs(&ifs));
  if (ifs != nullptr) ::freeifaddrs(ifs);
  expect_ok("personality(query)", ::personality(0xffffffff));
  expect_ok("personality(PER_LINUX)", ::personality(PER_LINUX));
  struct statx stx;
  expect_ok("statx", ::statx(AT_FDCWD, "/", 0, STATX_BASIC_STATS, &stx));
  const long epfd = ::epoll_create1(EPOLL_CLOEXEC);
  expect_ok("epoll_create1", epfd);
  close_if(epfd);
  const long evfd = ::eventfd(0, EFD_CLOEXEC);
  expect_ok("eventfd", evfd);
  close_if(evfd);
  const long memfd = ::memfd_create("isol8-test", MFD_CLOEXEC);
  expect_ok("memfd_create", memfd);
  close_if(memfd);
  const long devnull = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  expect_ok("open", devnull);
  close_if(devnull);
  return r;
}

TEST(SeccompFilter, EverydaySyscallsWork) {
  const SeccompProgram program = compile(marked_default_profile());
  auto out = run_filtered(program, check_allowed);
  EXPECT_TRUE(out.exited && out.code == 0)
      << "code " << out.code << " signal " << out.signal << "\n"
      << out.message;
}

#if defined(__x86_64__)
long int80_getpid() {
  long rc;
  // i386 getpid is 20. int $0x80 from 64-bit code zeroes r8-r11.
  __asm__ volatile("int $0x80" : "=a"(rc) : "a"(20L) : "memory", "r8", "r9", "r10", "r11");
  return rc;
}

TEST(SeccompFilter, I386SyscallsKillTheProcess) {
  // Whether this kernel runs i386 syscalls at all (ia32_emulation may be off).
  const pid_t probe = ::fork();
  if (probe == 0) _exit(int80_getpid() == ::getpid() ? 0 : 1);
  int status = 0;
  ::waitpid(probe, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    GTEST_SKIP() << "int $0x80 does not reach the kernel's i386 table here (status " << status
                 << ")";
  }
  const SeccompProgram program = compile(default_profile());
  auto out = run_filtered(
      program, [] { return fmt::format("int $0x80 getpid returned {}", int80_getpid()); });
  EXPECT_EQ(out.signal, SIGSYS) << out.message;
}

TEST(SeccompFilter, X32SyscallsKillTheProcess) {
  const SeccompProgram program = compile(default_profile());
  auto out = run_filtered(program, [] {
    const long rc = ::syscall(0x40000000L | SYS_getpid);
    return fmt::format("x32 getpid returned {} errno {}", rc, errno);
  });
  EXPECT_EQ(out.signal, SIGSYS) << out.message;
}
#endif

// Upstream's custom-profile test: a profile that denies mkdir makes mkdir fail with EPERM.
TEST(SeccompFilter, CustomProfileDenyingMkdir) {
  auto profile = parse_seccomp_profile(R"({
    "defaultAction": "SCMP_ACT_ALLOW",
    "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}]})");
  ASSERT_TRUE(profile) << profile.error().message;
  const SeccompProgram program = compile(*profile);
  auto out = run_filtered(program, [] {
    std::string r = expect_failure("mkdir", ::mkdir("/tmp/isol8-seccomp-mkdir-test", 0700), EPERM);
    r += expect_failure("mkdirat", ::mkdirat(AT_FDCWD, "/tmp/isol8-seccomp-mkdir-test", 0700),
                        EPERM);
    if (::getpid() <= 0) r += "getpid failed\n";
    return r;
  });
  EXPECT_TRUE(out.exited && out.code == 0) << out.message;
}

TEST(SeccompFilter, KillProcessRuleKills) {
  auto profile = parse_seccomp_profile(R"({
    "defaultAction": "SCMP_ACT_ALLOW",
    "syscalls": [{"names": ["getppid"], "action": "SCMP_ACT_KILL_PROCESS"}]})");
  ASSERT_TRUE(profile) << profile.error().message;
  const SeccompProgram program = compile(*profile);
  auto out = run_filtered(program, [] { return fmt::format("getppid returned {}", ::getppid()); });
  EXPECT_EQ(out.signal, SIGSYS) << out.message;
}

}  // namespace
}  // namespace isol8
