// Runs in the sandbox's processes between clone3 and execve: no allocation, no logging, no
// exceptions.

#include "namespaces/child_common.h"

#include <fcntl.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>

namespace isol8::child {

void send_message(const ChildMessage& msg) {
  // SOCK_SEQPACKET keeps each report whole; a failed send can only mean the parent is gone.
  (void)::send(kSyncFd, &msg, sizeof msg, MSG_NOSIGNAL);
}

void fail(ChildStep step, int err) {
  ChildMessage msg;
  msg.kind = ChildMessage::kFailure;
  msg.step = static_cast<uint32_t>(step);
  msg.error = err;
  send_message(msg);
  _exit(127);
}

void write_all(int fd, const char* data, size_t size, ChildStep step) {
  while (size > 0) {
    ssize_t n = ::write(fd, data, size);
    if (n < 0 && errno == EINTR) continue;
    check(n > 0, step);
    data += n;
    size -= static_cast<size_t>(n);
  }
}

void create_file(const char* path, const char* data, size_t size, mode_t mode, ChildStep step) {
  int fd = ::open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
  check(fd >= 0, step);
  write_all(fd, data, size, step);
  ::fchmod(fd, mode);  // the umask must not narrow the mode
  ::close(fd);
}

void make_directories(const char* target, bool include_last, ChildStep step) {
  char path[4096];
  size_t len = std::strlen(target);
  if (len >= sizeof path) fail(step, ENAMETOOLONG);
  std::memcpy(path, target, len + 1);
  for (size_t i = 1; i <= len; ++i) {
    if (path[i] != '/' && path[i] != '\0') continue;
    if (path[i] == '\0' && !include_last) break;
    const char saved = path[i];
    path[i] = '\0';
    if (::mkdir(path, 0755) != 0 && errno != EEXIST) fail(step);
    path[i] = saved;
  }
}

void reset_signals() {
  for (int sig = 1; sig < NSIG; ++sig) {
    if (sig == SIGKILL || sig == SIGSTOP) continue;
    ::signal(sig, SIG_DFL);
  }
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
}

// Under memory pressure the kernel must pick the program (and its children), never our init:
// raising one's own OOM score needs no privilege. (Dumpable again first: init's dumpable=0,
// inherited through fork, would make our /proc files root's.)
void raise_oom_score() {
  ::prctl(PR_SET_DUMPABLE, 1);
  const int adj = ::open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
  if (adj >= 0) {
    (void)::write(adj, "1000", 4);
    ::close(adj);
  }
  // Not dumpable again until execve makes the program's own memory dumpable: a program started
  // by spawn_program() still shares init's memory here, which must never be inspectable.
  ::prctl(PR_SET_DUMPABLE, 0);
}

void exec_program(const sock_fprog* seccomp, const char* path, char* const* argv,
                  char* const* envp) {
  reset_signals();
  raise_oom_score();
  if (seccomp != nullptr) {
    check(::prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, seccomp, 0, 0) == 0, ChildStep::kSeccomp);
  }
  ::execve(path, argv, envp);
  fail(ChildStep::kExec);
}

namespace {

struct ProgramStart {
  const sock_fprog* seccomp;
  const char* path;
  char* const* argv;
  char* const* envp;
};

int start_program(void* arg) {
  const auto* start = static_cast<const ProgramStart*>(arg);
  exec_program(start->seccomp, start->path, start->argv, start->envp);
}

}  // namespace

pid_t spawn_program(const sock_fprog* seccomp, const char* path, char* const* argv,
                    char* const* envp) {
  // Its own stack: the child must not write over the frames of ours, which it shares.
  constexpr size_t kStackSize = 64 * 1024;
  void* stack = ::mmap(nullptr, kStackSize, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
  if (stack == MAP_FAILED) return -1;
  ProgramStart start{seccomp, path, argv, envp};
  const pid_t pid = ::clone(start_program, static_cast<char*>(stack) + kStackSize,
                            CLONE_VM | CLONE_VFORK | SIGCHLD, &start);
  // CLONE_VFORK: we go on only once the child has called execve or exited, so the stack is
  // free again.
  ::munmap(stack, kStackSize);
  return pid;
}

// The raw system call, not glibc's fork(): that one takes malloc's and stdio's locks for its
// atfork handling, and a lock held by another thread of the runner at clone time stays held
// forever in our copy of the address space.
pid_t raw_fork() { return static_cast<pid_t>(::syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0)); }

int wait_for(pid_t child) {
  for (;;) {
    int status = 0;
    const pid_t pid = ::waitpid(-1, &status, 0);
    if (pid == child) return status;
    if (pid < 0 && errno != EINTR) return 0;  // cannot happen while the child lives
  }
}

}  // namespace isol8::child
