// A session sandbox's init and the per-execution keepers it forks. Runs between clone3 and
// execve: no allocation, no logging, no exceptions (stack buffers and raw system calls only).
//
// Init stays pid 1 of the sandbox's pid namespace for the session's life. For each execution it
// forks a keeper, which is a child subreaper: every process the execution starts, even one that
// daemonizes, stays its descendant while it lives, so that a kill command can end exactly the
// execution's processes. When the program exits, the keeper reports and exits; what the program
// left running reparents to init and keeps running (a background process of the session).

#include "namespaces/child_session.h"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "namespaces/child_common.h"
#include "namespaces/session_protocol.h"
#include "namespaces/session_transfer.h"

namespace isol8 {
namespace {

using namespace child;

constexpr int kMaxPassedFds = 6;  // memfd, stdin, stdout, stderr, setup stdout, setup stderr
// The keeper's signal from init: end the execution (init's kill command).
constexpr int kKillSignal = SIGUSR1;

// Receives one command and the descriptors that came with it (close-on-exec). Returns the
// command's size, 0 at EOF, or -1.
ssize_t receive_command(SessionCommand& cmd, int* fds, int& fd_count) {
  struct iovec iov = {&cmd, sizeof cmd};
  alignas(struct cmsghdr) char control[CMSG_SPACE(sizeof(int) * kMaxPassedFds)];
  struct msghdr msg;
  std::memset(&msg, 0, sizeof msg);
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  fd_count = 0;
  const ssize_t n = ::recvmsg(kSyncFd, &msg, MSG_CMSG_CLOEXEC);
  if (n <= 0) return n;
  for (struct cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    const size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (size_t i = 0; i < count; ++i) {
      int fd;
      std::memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
      if (fd_count < kMaxPassedFds) {
        fds[fd_count++] = fd;
      } else {
        ::close(fd);
      }
    }
  }
  return n;
}

void close_all(const int* fds, int count) {
  for (int i = 0; i < count; ++i) ::close(fds[i]);
}

void send_with_fd(const ChildMessage& reply, int fd) {
  if (fd < 0) {
    send_message(reply);
    return;
  }
  struct iovec iov = {const_cast<ChildMessage*>(&reply), sizeof reply};
  alignas(struct cmsghdr) char control[CMSG_SPACE(sizeof(int))];
  struct msghdr msg;
  std::memset(&msg, 0, sizeof msg);
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  struct cmsghdr* c = CMSG_FIRSTHDR(&msg);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  std::memcpy(CMSG_DATA(c), &fd, sizeof fd);
  (void)::sendmsg(kSyncFd, &msg, MSG_NOSIGNAL);
}

// ---- the keeper ----

// The block's offsets made pointers. Returns false when an offset lies outside the block.
bool relocate_string(char* base, uint64_t size, uint64_t offset, const char** out) {
  if (offset == 0 || offset >= size) return false;
  if (std::memchr(base + offset, '\0', size - offset) == nullptr) return false;
  *out = base + offset;
  return true;
}

bool relocate_array(char* base, uint64_t size, uint64_t offset, char*** out) {
  if (offset == 0 || offset % sizeof(uint64_t) != 0 || offset >= size) return false;
  auto* entries = reinterpret_cast<uint64_t*>(base + offset);
  const uint64_t max = (size - offset) / sizeof(uint64_t);
  for (uint64_t i = 0; i < max; ++i) {
    if (entries[i] == 0) {
      *out = reinterpret_cast<char**>(entries);
      return true;  // the 0 terminator is already the null pointer
    }
    const char* s = nullptr;
    if (!relocate_string(base, size, entries[i], &s)) return false;
    entries[i] = reinterpret_cast<uint64_t>(s);
  }
  return false;
}

// A setup step made pointers: argv (argv[0] is the path) and environment.
struct SetupCommandView {
  char** argv = nullptr;
  char** envp = nullptr;
};

struct Execution {
  char** argv = nullptr;
  char** envp = nullptr;
  SetupCommandView* setup = nullptr;  // in the block itself (ExecBlockStep has the same layout)
  uint64_t setup_count = 0;           // 0: no setup phase
  const char* workdir = nullptr;
  const ExecBlockFile* files = nullptr;
  uint64_t file_count = 0;
  char* base = nullptr;
  uint64_t size = 0;
};

void map_execution(int memfd, Execution& ex) {
  struct stat st;
  check(::fstat(memfd, &st) == 0, ChildStep::kSessionExec);
  if (st.st_size < static_cast<off_t>(sizeof(ExecBlock))) fail(ChildStep::kSessionExec, EINVAL);
  void* map = ::mmap(nullptr, static_cast<size_t>(st.st_size), PROT_READ | PROT_WRITE, MAP_PRIVATE,
                     memfd, 0);
  if (map == MAP_FAILED) fail(ChildStep::kSessionExec);
  ::close(memfd);
  ex.base = static_cast<char*>(map);
  ex.size = static_cast<uint64_t>(st.st_size);
  const auto* block = reinterpret_cast<const ExecBlock*>(ex.base);
  bool ok = block->magic == ExecBlock::kMagic && block->size == ex.size &&
            relocate_array(ex.base, ex.size, block->argv, &ex.argv) && ex.argv[0] != nullptr &&
            relocate_array(ex.base, ex.size, block->envp, &ex.envp) &&
            relocate_string(ex.base, ex.size, block->workdir, &ex.workdir);
  if (ok && block->setup_step_count > 0) {
    ok = block->setup_steps % alignof(ExecBlockStep) == 0 && block->setup_steps < ex.size &&
         block->setup_step_count <= (ex.size - block->setup_steps) / sizeof(ExecBlockStep);
    if (ok) {
      // Each step's two offsets become its two pointers, in place.
      auto* steps = reinterpret_cast<ExecBlockStep*>(ex.base + block->setup_steps);
      ex.setup = reinterpret_cast<SetupCommandView*>(steps);
      ex.setup_count = block->setup_step_count;
      for (uint64_t i = 0; ok && i < ex.setup_count; ++i) {
        const uint64_t argv = steps[i].argv;
        const uint64_t envp = steps[i].envp;
        ok = relocate_array(ex.base, ex.size, argv, &ex.setup[i].argv) &&
             ex.setup[i].argv[0] != nullptr &&
             relocate_array(ex.base, ex.size, envp, &ex.setup[i].envp);
      }
    }
  }
  if (ok && block->file_count > 0) {
    ok = block->files % alignof(ExecBlockFile) == 0 && block->files < ex.size &&
         block->file_count <= (ex.size - block->files) / sizeof(ExecBlockFile);
    if (ok) {
      ex.files = reinterpret_cast<const ExecBlockFile*>(ex.base + block->files);
      ex.file_count = block->file_count;
    }
    for (uint64_t i = 0; ok && i < ex.file_count; ++i) {
      const char* unused = nullptr;
      ok = relocate_string(ex.base, ex.size, ex.files[i].path, &unused) &&
           ex.files[i].data <= ex.size && ex.files[i].size <= ex.size - ex.files[i].data;
    }
  }
  if (!ok) fail(ChildStep::kSessionExec, EINVAL);
}

// Stdio to 0-2 and the setup pipes to 4-5 (close-on-exec); fd 3 (the control socket) stays for
// the keeper's reports; everything else is closed. Each is first copied above the target range.
void arrange_execution_fds(const int* fds, int count) {
  int high[kMaxPassedFds];
  for (int i = 1; i < count; ++i) {
    high[i] = ::fcntl(fds[i], F_DUPFD_CLOEXEC, 16);
    if (high[i] < 0) fail(ChildStep::kSessionExec);
  }
  const bool setup = count == kMaxPassedFds;
  if (::dup2(high[1], 0) < 0 || ::dup2(high[2], 1) < 0 || ::dup2(high[3], 2) < 0) {
    fail(ChildStep::kSessionExec);
  }
  if (setup && (::dup3(high[4], kSetupStdoutFd, O_CLOEXEC) < 0 ||
                ::dup3(high[5], kSetupStderrFd, O_CLOEXEC) < 0)) {
    fail(ChildStep::kSessionExec);
  }
  ::close_range(setup ? kSetupStderrFd + 1 : kSyncFd + 1, ~0U, 0);
}

// Reads the parent pid from /proc/<pid>/stat ("pid (comm) state ppid ..."); -1 when gone.
pid_t parent_of(const char* pid_name) {
  char path[64] = "/proc/";
  const size_t len = std::strlen(pid_name);
  if (len > 20) return -1;
  std::memcpy(path + 6, pid_name, len);
  std::memcpy(path + 6 + len, "/stat", 6);
  const int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  char buf[1024];
  const ssize_t n = ::read(fd, buf, sizeof buf - 1);
  ::close(fd);
  if (n <= 0) return -1;
  buf[n] = '\0';
  const char* paren = std::strrchr(buf, ')');
  if (paren == nullptr || paren[1] == '\0' || paren[2] == '\0') return -1;
  const char* p = paren + 4;  // ") S " then the ppid
  if (p >= buf + n) return -1;
  pid_t ppid = 0;
  while (*p >= '0' && *p <= '9') ppid = ppid * 10 + (*p++ - '0');
  return ppid;
}

// SIGKILLs every process descended from this one, from one scan of /proc. Returns how many.
int kill_descendants_once() {
  constexpr int kMax = 4096;
  pid_t pids[kMax];
  pid_t parents[kMax];
  bool mine[kMax];
  int count = 0;
  const pid_t self = static_cast<pid_t>(::syscall(SYS_getpid));
  const int dir = ::open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir < 0) return 0;
  alignas(8) char buf[8192];
  for (;;) {
    const long n = ::syscall(SYS_getdents64, dir, buf, sizeof buf);
    if (n <= 0) break;
    for (long off = 0; off < n;) {
      const auto* entry = reinterpret_cast<const struct dirent64*>(buf + off);
      off += entry->d_reclen;
      const char* name = entry->d_name;
      if (name[0] < '1' || name[0] > '9' || count >= kMax) continue;
      pid_t pid = 0;
      for (const char* c = name; *c >= '0' && *c <= '9'; ++c) pid = pid * 10 + (*c - '0');
      const pid_t ppid = parent_of(name);
      if (ppid <= 0) continue;
      pids[count] = pid;
      parents[count] = ppid;
      mine[count] = ppid == self;
      ++count;
    }
  }
  ::close(dir);
  for (bool changed = true; changed;) {  // descendants of descendants
    changed = false;
    for (int i = 0; i < count; ++i) {
      if (mine[i]) continue;
      for (int j = 0; j < count; ++j) {
        if (mine[j] && pids[j] == parents[i]) {
          mine[i] = changed = true;
          break;
        }
      }
    }
  }
  int killed = 0;
  for (int i = 0; i < count; ++i) {
    if (mine[i] && ::kill(pids[i], SIGKILL) == 0) ++killed;
  }
  return killed;
}

// Reaps whatever has exited; records `child`'s status. Returns false when no child is left.
bool reap_ready(pid_t child, int& status, bool& done) {
  for (;;) {
    int st = 0;
    const pid_t pid = ::waitpid(-1, &st, WNOHANG);
    if (pid < 0) return errno != ECHILD;
    if (pid == 0) return true;
    if (pid == child) {
      status = st;
      done = true;
    }
  }
}

// Ends every process of the execution: as a subreaper the keeper adopts each orphan, so the
// execution is over when it has no child left. Repeats the scan until then (a process forked
// between a scan and the kills is found by the next).
void end_execution(pid_t child, int& status, bool& done) {
  for (;;) {
    kill_descendants_once();
    if (!reap_ready(child, status, done)) return;
    const struct timespec pause = {0, 1000000};
    ::nanosleep(&pause, nullptr);
  }
}

// Waits for `child` (reaping the orphans it leaves too) while honouring init's kill signal.
int wait_killable(pid_t child, bool& killed) {
  sigset_t wanted;
  sigemptyset(&wanted);
  sigaddset(&wanted, SIGCHLD);
  sigaddset(&wanted, kKillSignal);
  int status = 0;
  bool done = false;
  for (;;) {
    reap_ready(child, status, done);
    if (done) return status;
    siginfo_t info;
    const int sig = ::sigwaitinfo(&wanted, &info);
    if (sig == kKillSignal) {
      killed = true;
      // The child's process group first, in one go (a fork bomb in it cannot outgrow the kill),
      // then whatever left the group.
      ::kill(-child, SIGKILL);
      end_execution(child, status, done);
      if (done) return status;
    }
  }
}

[[noreturn]] void exec_setup(const SetupCommandView& step, const ChildSpec& spec) {
  const int null = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (null < 0 || ::dup2(null, 0) < 0 || ::dup2(kSetupStdoutFd, 1) < 0 ||
      ::dup2(kSetupStderrFd, 2) < 0) {
    fail(ChildStep::kFork);
  }
  exec_program(spec.seccomp, step.argv[0], step.argv, step.envp);
}

// One execution: files, working directory, setup phase, program; reports on fd 3.
[[noreturn]] void run_keeper(const ChildSpec& spec, const int* fds, int count) {
  ::prctl(PR_SET_CHILD_SUBREAPER, 1);
  if (count != 4 && count != kMaxPassedFds) fail(ChildStep::kSessionExec, EINVAL);
  Execution ex;
  map_execution(fds[0], ex);  // fds[0] is the memfd; closed once mapped
  arrange_execution_fds(fds, count);
  for (uint64_t i = 0; i < ex.file_count; ++i) {
    const ExecBlockFile& f = ex.files[i];
    const char* path = ex.base + f.path;
    make_directories(path, /*include_last=*/false, ChildStep::kInjectFile);
    create_file(path, ex.base + f.data, f.size, static_cast<mode_t>(f.mode & 0777),
                ChildStep::kInjectFile);
  }
  make_directories(ex.workdir, /*include_last=*/true, ChildStep::kWorkdir);
  check(::chdir(ex.workdir) == 0, ChildStep::kWorkdir);

  bool killed = false;
  // The setup steps in order, each reported; the first that fails (or a kill) ends the execution.
  for (uint64_t i = 0; i < ex.setup_count; ++i) {
    const pid_t setup = raw_fork();
    if (setup < 0) fail(ChildStep::kFork);
    if (setup == 0) {
      ::setpgid(0, 0);
      exec_setup(ex.setup[i], spec);
    }
    ::setpgid(setup, setup);  // both sides, so that it holds before either goes on
    ChildMessage done;
    done.kind = ChildMessage::kSetupExited;
    done.step = static_cast<uint32_t>(i);
    done.wait_status = wait_killable(setup, killed);
    send_message(done);
    if (done.wait_status != 0 || killed) _exit(0);
  }
  if (ex.setup_count > 0) {
    ::close(kSetupStdoutFd);
    ::close(kSetupStderrFd);
  }
  const pid_t program = raw_fork();
  if (program < 0) fail(ChildStep::kFork);
  if (program == 0) {
    ::setpgid(0, 0);  // its own process group, which a kill ends at once
    exec_program(spec.seccomp, ex.argv[0], ex.argv, ex.envp);
  }
  ::setpgid(program, program);
  // The keeper keeps no copy of the program's stdio.
  ::close(0);
  ::close(1);
  ::close(2);
  ChildMessage exited;
  exited.kind = ChildMessage::kExited;
  exited.wait_status = wait_killable(program, killed);
  send_message(exited);
  _exit(0);
}

// ---- init ----

void end_keeper_reports(pid_t& keeper, int wait_status, const struct rusage& usage) {
  ChildMessage ended;
  ended.kind = ChildMessage::kExecutionEnded;
  ended.wait_status = wait_status;
  ended.max_rss_kb = usage.ru_maxrss;
  send_message(ended);
  keeper = 0;
}

// Reaps every exited child (keepers and the orphans init adopts).
void reap_children(pid_t& keeper) {
  for (;;) {
    int status = 0;
    struct rusage usage;
    std::memset(&usage, 0, sizeof usage);
    const pid_t pid = ::wait4(-1, &status, WNOHANG, &usage);
    if (pid <= 0) return;
    if (pid == keeper) end_keeper_reports(keeper, status, usage);
  }
}

void refuse_execution(ChildStep step, int err) {
  ChildMessage failure;
  failure.kind = ChildMessage::kFailure;
  failure.step = static_cast<uint32_t>(step);
  failure.error = err;
  send_message(failure);
  pid_t none = 0;
  const struct rusage zero = {};
  end_keeper_reports(none, 0, zero);
}

// kDetach: arms (or re-arms) the timer that ends a kept sandbox after `seconds`; 0 or an errno.
int start_lifetime(uint32_t seconds, int& timer) {
  if (seconds == 0) return EINVAL;
  if (timer < 0) timer = ::timerfd_create(CLOCK_BOOTTIME, TFD_CLOEXEC | TFD_NONBLOCK);
  if (timer < 0) return errno;
  struct itimerspec when;
  std::memset(&when, 0, sizeof when);
  when.it_value.tv_sec = static_cast<time_t>(seconds);
  if (::timerfd_settime(timer, 0, &when, nullptr) != 0) {
    const int err = errno;
    ::close(timer);
    timer = -1;
    return err;
  }
  return 0;
}

}  // namespace

void run_session_loop(const ChildSpec& spec) {
  // The control socket's EOF ends the session, not the death of the runner's thread that
  // happened to open it (the parent-death signal follows that thread).
  ::prctl(PR_SET_PDEATHSIG, 0);
  const int null = ::open("/dev/null", O_RDWR | O_CLOEXEC);
  if (null >= 0) {
    ::dup2(null, 0);
    ::dup2(null, 1);
    ::dup2(null, 2);
    ::close(null);
  }
  // SIGCHLD and SIGTERM through a signalfd; the keeper's kill signal blocked so that keepers
  // start with it blocked (they wait for it with sigwaitinfo). A blocked signal is queued even
  // for a pid namespace's init, so SIGTERM from the host reaches the loop.
  sigset_t blocked;
  sigemptyset(&blocked);
  sigaddset(&blocked, SIGCHLD);
  sigaddset(&blocked, SIGTERM);
  sigaddset(&blocked, kKillSignal);
  ::sigprocmask(SIG_BLOCK, &blocked, nullptr);
  sigset_t watched;
  sigemptyset(&watched);
  sigaddset(&watched, SIGCHLD);
  sigaddset(&watched, SIGTERM);
  const int sfd = ::signalfd(-1, &watched, SFD_CLOEXEC | SFD_NONBLOCK);
  check(sfd >= 0, ChildStep::kSessionExec);

  ChildMessage ready;
  ready.kind = ChildMessage::kReady;
  send_message(ready);

  pid_t keeper = 0;
  SessionCommand cmd;
  int fds[kMaxPassedFds];
  int fd_count = 0;
  // After kDetach: the lifetime's timer; the control socket's EOF then closes the socket only.
  int lifetime = -1;
  bool connected = true;
  for (;;) {
    struct pollfd watch[3] = {
        {connected ? kSyncFd : -1, POLLIN, 0}, {sfd, POLLIN, 0}, {lifetime, POLLIN, 0}};
    if (::poll(watch, 3, -1) < 0) continue;
    if (watch[2].revents != 0) _exit(0);  // a kept sandbox's lifetime is over
    if (watch[1].revents != 0) {
      struct signalfd_siginfo info;
      while (::read(sfd, &info, sizeof info) > 0) {
        // SIGTERM from outside the sandbox (whose sender has no pid in this namespace) ends it;
        // the sandbox's own processes cannot end their init that way.
        if (info.ssi_signo == SIGTERM && info.ssi_pid == 0) _exit(0);
      }
      reap_children(keeper);
    }
    if (watch[0].revents == 0) continue;
    const ssize_t n = receive_command(cmd, fds, fd_count);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (n <= 0) {
      // The runner is gone. A kept sandbox stays (its lifetime ends it); any other ends here,
      // and the kernel ends the sandbox with us.
      if (lifetime < 0) _exit(0);
      ::close(kSyncFd);
      connected = false;
      continue;
    }
    if (cmd.kind == SessionCommand::kExec) {
      if (keeper != 0 || fd_count < 4) {
        close_all(fds, fd_count);
        refuse_execution(ChildStep::kSessionExec, keeper != 0 ? EBUSY : EINVAL);
        continue;
      }
      const pid_t pid = raw_fork();
      if (pid == 0) {
        ::close(sfd);
        if (lifetime >= 0) ::close(lifetime);
        run_keeper(spec, fds, fd_count);
      }
      const int err = errno;
      close_all(fds, fd_count);
      if (pid < 0) {
        refuse_execution(ChildStep::kFork, err);
      } else {
        keeper = pid;
      }
    } else if (cmd.kind == SessionCommand::kKill) {
      close_all(fds, fd_count);
      if (keeper != 0) {
        ::kill(keeper, kKillSignal);
        ::kill(keeper, SIGCONT);  // a keeper the program stopped must still act
      }
    } else if (cmd.kind == SessionCommand::kOpen) {
      close_all(fds, fd_count);
      int fd = -1;
      ChildMessage reply;
      reply.kind = ChildMessage::kOpened;
      reply.error = open_for_transfer(cmd, fd);
      send_with_fd(reply, fd);
      if (fd >= 0) ::close(fd);
    } else if (cmd.kind == SessionCommand::kDetach) {
      close_all(fds, fd_count);
      ChildMessage reply;
      reply.kind = ChildMessage::kDetached;
      reply.error = start_lifetime(cmd.seconds, lifetime);
      send_message(reply);
    } else {
      close_all(fds, fd_count);
    }
  }
}

}  // namespace isol8
