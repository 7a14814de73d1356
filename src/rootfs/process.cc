#include "rootfs/process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <map>

#include <fmt/format.h>

#include "common/unique_fd.h"

extern char** environ;

namespace isol8::rootfs {
namespace {

void kill_group_and_reap(pid_t pid, const UniqueFd& pidfd) {
  ::kill(-pid, SIGTERM);
  pollfd p{pidfd.get(), POLLIN, 0};
  if (::poll(&p, 1, 3000) <= 0) ::kill(-pid, SIGKILL);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  // What the group's other members still run (an apt or dpkg the step started) goes too.
  ::kill(-pid, SIGKILL);
}

}  // namespace

Result<int> run_step(const StepCommand& command) {
  if (command.argv.empty()) return make_error("run_step: empty argv");
  std::map<std::string, std::string> env;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string kv(*e);
    const auto eq = kv.find('=');
    if (eq != std::string::npos) env[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  for (const auto& kv : command.extra_env) {
    const auto eq = kv.find('=');
    env[kv.substr(0, eq)] = eq == std::string::npos ? "" : kv.substr(eq + 1);
  }
  std::vector<std::string> env_storage;
  for (const auto& [k, v] : env) env_storage.push_back(k + "=" + v);
  std::vector<char*> envp;
  for (auto& s : env_storage) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::vector<std::string> argv_storage = command.argv;
  std::vector<char*> argv;
  for (auto& s : argv_storage) argv.push_back(s.data());
  argv.push_back(nullptr);

  UniqueFd devnull(::open("/dev/null", O_RDWR | O_CLOEXEC));
  const int out = command.log_fd >= 0 ? command.log_fd : devnull.get();
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, devnull.get(), 0);
  posix_spawn_file_actions_adddup2(&fa, out, 1);
  posix_spawn_file_actions_adddup2(&fa, out, 2);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t all, none;
  sigfillset(&all);
  sigemptyset(&none);
  posix_spawnattr_setsigdefault(&attr, &all);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setpgroup(&attr, 0);  // its own group: Ctrl-C reaches us, we stop it all
  posix_spawnattr_setflags(&attr,
                           POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETPGROUP);
  pid_t pid = -1;
  const int rc = ::posix_spawnp(&pid, argv[0], &fa, &attr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) return errno_error("cannot run " + command.argv[0], rc);

  UniqueFd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
  if (!pidfd) {
    const int err = errno;
    ::kill(-pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
    return errno_error("pidfd_open", err);
  }
  for (;;) {
    pollfd fds[2] = {{pidfd.get(), POLLIN, 0}, {command.cancel_fd, POLLIN, 0}};
    const int n = ::poll(fds, command.cancel_fd >= 0 ? 2 : 1, 1000);
    if (n < 0 && errno != EINTR) {
      const int err = errno;
      kill_group_and_reap(pid, pidfd);
      return errno_error("poll", err);
    }
    if (n > 0 && command.cancel_fd >= 0 && (fds[1].revents & POLLIN)) {
      kill_group_and_reap(pid, pidfd);
      return Error{ECANCELED, "cancelled"};
    }
    if (n > 0 && (fds[0].revents & POLLIN)) break;
    if (command.tick) command.tick();
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  ::kill(-pid, SIGKILL);  // stragglers of the step's group, if any
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  return 128 + WTERMSIG(status);
}

}  // namespace isol8::rootfs
