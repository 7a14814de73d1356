#include "support/cli.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

extern char** environ;

namespace isol8::test {
namespace {

const char* from_env_or(const char* name, const char* fallback) {
  const char* value = std::getenv(name);
  return value != nullptr && *value != '\0' ? value : fallback;
}

}  // namespace

const char* const kIsol8Binary = from_env_or("ISOL8_TEST_BINARY", ISOL8_BINARY);
const char* const kProbeBinary = from_env_or("ISOL8_TEST_PROBE", ISOL8_PROBE);
const char* const kRelayBinary = from_env_or("ISOL8_TEST_RELAY", ISOL8_RELAY);
const char* const kSourceDir = ISOL8_SOURCE_DIR;

CliProcess::CliProcess(const std::vector<std::string>& args, CliOptions opts)
    : opts_(std::move(opts)) {
  ::signal(SIGPIPE, SIG_IGN);  // the CLI may close its stdin early
  int in[2], out[2], err[2];
  if (::pipe2(in, O_CLOEXEC) || ::pipe2(out, O_CLOEXEC) || ::pipe2(err, O_CLOEXEC)) {
    spawn_error_ = errno;
    return;
  }
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, in[0], 0);
  posix_spawn_file_actions_adddup2(&fa, out[1], 1);
  posix_spawn_file_actions_adddup2(&fa, err[1], 2);
  if (!opts_.cwd.empty()) posix_spawn_file_actions_addchdir_np(&fa, opts_.cwd.c_str());
  // The CLI gets default signal dispositions and an empty mask whatever this process has.
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t all, none;
  sigfillset(&all);
  sigemptyset(&none);
  posix_spawnattr_setsigdefault(&attr, &all);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);

  std::vector<std::string> argv_storage = opts_.launcher;
  argv_storage.push_back(kIsol8Binary);
  argv_storage.insert(argv_storage.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& s : argv_storage) argv.push_back(s.data());
  argv.push_back(nullptr);
  std::vector<std::string> env_storage;
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string kv(*e);
    const std::string key = kv.substr(0, kv.find('='));
    if (opts_.env.count(key) == 0) env_storage.push_back(kv);
  }
  for (const auto& [key, value] : opts_.env) {
    if (value) env_storage.push_back(key + "=" + *value);
  }
  std::vector<char*> envp;
  for (auto& s : env_storage) envp.push_back(s.data());
  envp.push_back(nullptr);

  start_ = std::chrono::steady_clock::now();
  const char* path = opts_.launcher.empty() ? kIsol8Binary : opts_.launcher.front().c_str();
  spawn_error_ = ::posix_spawn(&pid_, path, &fa, &attr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  ::close(in[0]);
  ::close(out[1]);
  ::close(err[1]);
  in_ = in[1];
  out_ = out[0];
  err_ = err[0];
  ::fcntl(in_, F_SETFL, O_NONBLOCK);
  if (spawn_error_ != 0) {
    pid_ = -1;
    close_all();
  } else if (opts_.input.empty()) {
    ::close(in_);
    in_ = -1;
  }
}

CliProcess::~CliProcess() {
  if (pid_ > 0 && !reaped_) {
    ::kill(pid_, SIGKILL);
    int status = 0;
    ::waitpid(pid_, &status, 0);
  }
  close_all();
}

int CliProcess::signal(int sig) const { return pid_ > 0 ? ::kill(pid_, sig) : -1; }

CliRun CliProcess::wait() {
  CliRun r;
  r.spawn_error = spawn_error_;
  if (pid_ <= 0) return r;
  const auto deadline = start_ + opts_.hang_limit;
  size_t written = 0;
  while (out_ >= 0 || err_ >= 0) {
    pollfd fds[3];
    nfds_t n = 0;
    int i_out = -1, i_err = -1, i_in = -1;
    if (out_ >= 0) {
      fds[n] = {out_, POLLIN, 0};
      i_out = static_cast<int>(n++);
    }
    if (err_ >= 0) {
      fds[n] = {err_, POLLIN, 0};
      i_err = static_cast<int>(n++);
    }
    if (in_ >= 0) {
      fds[n] = {in_, POLLOUT, 0};
      i_in = static_cast<int>(n++);
    }
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      r.hung = true;
      ::kill(pid_, SIGKILL);
      break;
    }
    const int ready = ::poll(fds, n, static_cast<int>(left.count()));
    if (ready < 0 && errno != EINTR) break;
    if (ready <= 0) continue;
    char buf[65536];
    if (i_out >= 0 && fds[i_out].revents) drain(out_, r.out, buf, sizeof buf);
    if (i_err >= 0 && fds[i_err].revents) drain(err_, r.err, buf, sizeof buf);
    if (i_in >= 0 && fds[i_in].revents) {
      const ssize_t k = ::write(in_, opts_.input.data() + written, opts_.input.size() - written);
      if (k > 0) written += static_cast<size_t>(k);
      if ((k < 0 && errno != EAGAIN && errno != EINTR) || written == opts_.input.size()) {
        ::close(in_);
        in_ = -1;
      }
    }
  }
  close_all();
  int status = 0;
  rusage usage{};
  // The output is closed; the CLI is about to exit. Bound the wait all the same.
  for (;;) {
    const pid_t got = ::wait4(pid_, &status, WNOHANG, &usage);
    if (got == pid_) break;
    if (got < 0 && errno != EINTR) break;
    if (std::chrono::steady_clock::now() >= deadline) {
      r.hung = true;
      ::kill(pid_, SIGKILL);
      ::wait4(pid_, &status, 0, &usage);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  reaped_ = true;
  r.wall_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start_).count();
  r.max_rss_kb = usage.ru_maxrss;
  if (WIFEXITED(status)) {
    r.exit_code = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    r.term_signal = WTERMSIG(status);
    r.exit_code = 128 + r.term_signal;
  }
  return r;
}

void CliProcess::drain(int& fd, std::string& into, char* buf, size_t size) {
  const ssize_t k = ::read(fd, buf, size);
  if (k > 0) {
    into.append(buf, static_cast<size_t>(k));
  } else if (k == 0 || (errno != EINTR && errno != EAGAIN)) {
    ::close(fd);
    fd = -1;
  }
}

void CliProcess::close_all() {
  for (int* fd : {&in_, &out_, &err_}) {
    if (*fd >= 0) ::close(*fd);
    *fd = -1;
  }
}

CliRun run_cli_with(const std::vector<std::string>& args, CliOptions opts) {
  CliProcess p(args, std::move(opts));
  return p.wait();
}

CliRun run_cli(const std::vector<std::string>& args, const std::string& input) {
  CliOptions opts;
  opts.input = input;
  return run_cli_with(args, std::move(opts));
}

std::string describe(const CliRun& r) {
  std::ostringstream s;
  s << "exit=" << r.exit_code << " signal=" << r.term_signal << " hung=" << r.hung
    << " spawn_error=" << r.spawn_error << " wall_ms=" << r.wall_ms << "\n--- stdout ("
    << r.out.size() << " bytes) ---\n"
    << r.out.substr(0, 2000) << "\n--- stderr (" << r.err.size() << " bytes) ---\n"
    << r.err.substr(0, 2000);
  return s.str();
}

IsolatedCli::IsolatedCli(std::optional<uint32_t> id_map_base) {
  if (id_map_base) {
    spit(dir_.file("isol8.config.json"),
         nlohmann::json{{"native", {{"idMapBase", *id_map_base}}}}.dump());
  }
}

CliOptions IsolatedCli::options(std::string input) const {
  CliOptions o;
  o.cwd = dir_.path();
  o.env["HOME"] = dir_.path();
  o.input = std::move(input);
  return o;
}

CliRun IsolatedCli::run(const std::vector<std::string>& args, std::string input) const {
  return run_cli_with(args, options(std::move(input)));
}

}  // namespace isol8::test
