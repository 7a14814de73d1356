#pragma once
// Helpers for the native integration tier (tests/integration/native). Header-only on purpose: the
// test support library's sources are fixed in tests/CMakeLists.txt.
//
//   - sandbox_unavailable_reason(): why sandboxes cannot run here ("" when they can)
//   - run_probe(): runs the static probe inside a sandbox through the library, parses its JSON
//   - CliProcess / run_cli_with(): the real isol8 binary with a cwd, env overrides, a hang guard
//   - pids_with_host_uid(), host_mount_count(): what a run may leave behind on the host
//   - TempDir, NativeTest (skips without root/userns), LeakCheckedTest (before/after counts)

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "isol8/engine.h"
#include "support/test_support.h"

extern char** environ;

namespace isol8::test {

// ---------------------------------------------------------------------------------------------
// Small file helpers

inline std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline bool spit(const std::string& path, const std::string& data) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << data;
  return static_cast<bool>(out);
}

inline bool contains(std::string_view haystack, std::string_view needle) {
  return haystack.find(needle) != std::string_view::npos;
}

// Removes trailing whitespace (the CLI and engine trim output the same way).
inline std::string rtrim(std::string s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
  return s;
}

// The CLI's stderr without the runner's own "[WARN] ..." lines (e.g. about limits this host
// cannot enforce), so that tests can compare the program's stderr exactly.
inline std::string without_warnings(const std::string& err) {
  std::string out;
  size_t i = 0;
  while (i < err.size()) {
    size_t end = err.find('\n', i);
    end = end == std::string::npos ? err.size() : end + 1;
    if (err.compare(i, 7, "[WARN] ") != 0) out.append(err, i, end - i);
    i = end;
  }
  return out;
}

// A fresh directory under /tmp, removed with its contents at scope exit.
class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/isol8-native-XXXXXX";
    if (::mkdtemp(tmpl) != nullptr) path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    if (!path_.empty()) std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// ---------------------------------------------------------------------------------------------
// Prerequisites

// "" when sandboxes can be created here (root, or unprivileged user namespaces work), else why
// not. The user-namespace check runs in a throwaway child so that this process stays as it was.
inline std::string sandbox_unavailable_reason() {
  if (::geteuid() == 0) return "";
  const pid_t child = ::fork();
  if (child < 0) return "fork failed while checking for user namespaces";
  if (child == 0) _exit(::unshare(CLONE_NEWUSER) == 0 ? 0 : 1);
  int status = 0;
  while (::waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return "";
  return "not root and unprivileged user namespaces are unavailable "
         "(kernel.unprivileged_userns_clone / max_user_namespaces / AppArmor)";
}

// Root maps sandbox uid 0..65535 to id_map_base..+65535; without root the map is a single id or
// a subordinate range, so checks that name a host uid only hold for root.
inline bool privileged_id_map() { return ::geteuid() == 0; }

inline constexpr uint32_t kDefaultIdMapBase = 1000000;
inline constexpr uint32_t kSandboxUid = 100;
inline constexpr uint32_t kSandboxGid = 101;

// An id map base no other test process (ctest -j) or a benchmark running meanwhile uses, so that
// counting the processes of "our" host uid is not disturbed by other sandboxes.
inline uint32_t unique_id_map_base() {
  return kDefaultIdMapBase + 65536u * (16u + static_cast<uint32_t>(::getpid()) % 2048u);
}

// ---------------------------------------------------------------------------------------------
// What a run can leave behind on the host

// The real uid of a process on the host from its /proc/<pid>/status "Uid:" line, or -1.
inline long host_real_uid(pid_t pid) {
  std::istringstream in(slurp("/proc/" + std::to_string(pid) + "/status"));
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("Uid:", 0) == 0) {
      std::istringstream fields(line.substr(4));
      long uid = -1;
      fields >> uid;
      return uid;
    }
  }
  return -1;
}

// A field of /proc/<pid>/status ("NSpid", "PPid", ...), or "".
inline std::string status_field(pid_t pid, const std::string& key) {
  std::istringstream in(slurp("/proc/" + std::to_string(pid) + "/status"));
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(key + ":", 0) == 0) {
      std::string v = line.substr(key.size() + 1);
      v.erase(0, v.find_first_not_of(" \t"));
      return v;
    }
  }
  return "";
}

inline std::vector<pid_t> all_pids() {
  std::vector<pid_t> pids;
  DIR* dir = ::opendir("/proc");
  if (dir == nullptr) return pids;
  while (dirent* e = ::readdir(dir)) {
    char* end = nullptr;
    const long pid = std::strtol(e->d_name, &end, 10);
    if (end != e->d_name && *end == '\0' && pid > 0) pids.push_back(static_cast<pid_t>(pid));
  }
  ::closedir(dir);
  return pids;
}

// Host processes whose real uid is `uid` (sandbox processes run as id_map_base + 100).
inline std::vector<pid_t> pids_with_host_uid(long uid) {
  std::vector<pid_t> out;
  for (pid_t pid : all_pids()) {
    if (host_real_uid(pid) == uid) out.push_back(pid);
  }
  return out;
}

// argv of a process, from /proc/<pid>/cmdline.
inline std::vector<std::string> cmdline_of(pid_t pid) {
  const std::string raw = slurp("/proc/" + std::to_string(pid) + "/cmdline");
  std::vector<std::string> argv;
  size_t i = 0;
  while (i < raw.size()) {
    const size_t nul = raw.find('\0', i);
    const size_t end = nul == std::string::npos ? raw.size() : nul;
    argv.push_back(raw.substr(i, end - i));
    i = end + 1;
  }
  return argv;
}

// The first process whose argv equals `argv`, waiting up to `limit` for it to appear.
inline std::optional<pid_t> wait_for_process(const std::vector<std::string>& argv,
                                             std::chrono::milliseconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  do {
    for (pid_t pid : all_pids()) {
      if (cmdline_of(pid) == argv) return pid;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  } while (std::chrono::steady_clock::now() < deadline);
  return std::nullopt;
}

// Waits up to `limit` for a process with host uid `uid` to exist; true when one does.
inline bool wait_for_host_uid(long uid, std::chrono::milliseconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  do {
    if (!pids_with_host_uid(uid).empty()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  } while (std::chrono::steady_clock::now() < deadline);
  return false;
}

// The data root and exec root of the Docker daemon at DOCKER_HOST (a local Unix socket), from
// the command line of the dockerd process holding the listening socket; empty when there is no
// such daemon. Looked up once per test process.
inline std::vector<std::string> docker_daemon_dirs() {
  static const std::vector<std::string> dirs = [] {
    std::vector<std::string> out;
    const char* host = std::getenv("DOCKER_HOST");
    std::string socket = host && *host ? host : "unix:///var/run/docker.sock";
    if (!socket.starts_with("unix://")) return out;
    socket = socket.substr(7);
    std::error_code ec;
    const std::string canonical = std::filesystem::weakly_canonical(socket, ec).string();
    std::set<std::string> inodes;  // of the listening socket, from /proc/net/unix
    std::istringstream table(slurp("/proc/net/unix"));
    std::string line;
    while (std::getline(table, line)) {
      std::istringstream f(line);
      std::vector<std::string> cols;
      for (std::string c; f >> c;) cols.push_back(c);
      if (cols.size() >= 8 && (cols[7] == socket || cols[7] == canonical)) inodes.insert(cols[6]);
    }
    if (inodes.empty()) return out;
    for (pid_t pid : all_pids()) {
      const std::vector<std::string> argv = cmdline_of(pid);
      if (argv.empty() || std::filesystem::path(argv[0]).filename() != "dockerd") continue;
      bool holds = false;
      const std::string fds = "/proc/" + std::to_string(pid) + "/fd";
      for (std::filesystem::directory_iterator it(fds, ec), end; !ec && it != end && !holds;
           it.increment(ec)) {
        std::error_code rl;
        const std::string target = std::filesystem::read_symlink(it->path(), rl).string();
        holds = target.starts_with("socket:[") && target.size() > 9 &&
                inodes.count(target.substr(8, target.size() - 9));
      }
      ec.clear();
      if (!holds) continue;
      std::string data_root = "/var/lib/docker", exec_root = "/var/run/docker";
      for (size_t i = 0; i < argv.size(); ++i) {
        if (argv[i] == "--data-root" && i + 1 < argv.size()) data_root = argv[i + 1];
        if (argv[i].starts_with("--data-root=")) data_root = argv[i].substr(12);
        if (argv[i] == "--exec-root" && i + 1 < argv.size()) exec_root = argv[i + 1];
        if (argv[i].starts_with("--exec-root=")) exec_root = argv[i].substr(12);
      }
      for (const std::string& d : {data_root, exec_root}) {
        out.push_back(std::filesystem::weakly_canonical(d, ec).string() + "/");
      }
      break;
    }
    return out;
  }();
  return dirs;
}

// A mount the Docker daemon at DOCKER_HOST made under its own directories: a container's root
// filesystem (<data-root>/overlay2/<id>/merged) while the container exists, a container's network
// namespace (<exec-root>/netns/<id>), which the daemon unmounts lazily, up to a minute after the
// container is gone. They belong to the daemon and come and go with containers of any test
// running at the same time; they are not something a run leaves on the host.
inline bool is_docker_daemon_mount(const std::string& mount_point) {
  for (const std::string& dir : docker_daemon_dirs()) {
    if (mount_point.starts_with(dir)) return true;
  }
  return false;
}

// Mounts visible in this (the host's) mount namespace, leaving out the Docker daemon's own.
inline size_t host_mount_count() {
  std::istringstream in(slurp("/proc/self/mountinfo"));
  std::string line;
  size_t n = 0;
  while (std::getline(in, line)) {
    std::istringstream f(line);
    std::string id, parent, devno, root, point;
    f >> id >> parent >> devno >> root >> point;
    if (!is_docker_daemon_mount(point)) ++n;
  }
  return n;
}

// ---------------------------------------------------------------------------------------------
// The probe, through the library

inline std::string probe_bytes() { return slurp(kProbeBinary); }

struct ProbeRun {
  std::string error;  // empty on success
  ExecutionResult result;
  nlohmann::json report;
  bool ok() const { return error.empty(); }
};

enum class ProbeVia {
  // bash: `cat > /sandbox/probe && chmod +x /sandbox/probe && exec /sandbox/probe`. bash exports
  // PWD, SHLVL and _ to what it runs.
  kBash,
  // python3 writes the probe and execv()s it: python adds nothing to the environment, so the
  // probe sees exactly the sandbox's environment, and it is the sandbox's program (ppid 1).
  kPython,
};

inline ProbeRun run_probe(Options options, ExecutionRequest request = {},
                          ProbeVia via = ProbeVia::kBash) {
  ProbeRun run;
  if (via == ProbeVia::kBash) {
    request.runtime = "bash";
    request.cmd = "cat > /sandbox/probe && chmod +x /sandbox/probe && exec /sandbox/probe";
  } else {
    request.runtime = "python";
    request.code =
        "import os, sys\n"
        "with open('/sandbox/probe', 'wb') as f:\n"
        "    f.write(sys.stdin.buffer.read())\n"
        "os.chmod('/sandbox/probe', 0o755)\n"
        "os.execv('/sandbox/probe', ['/sandbox/probe'])\n";
  }
  request.stdin_data = probe_bytes();
  if (request.stdin_data->empty()) {
    run.error = std::string("cannot read the probe binary ") + kProbeBinary;
    return run;
  }
  auto engine = Engine::create(std::move(options));
  if (!engine) {
    run.error = "Engine::create: " + engine.error().message;
    return run;
  }
  auto result = (*engine)->execute(request);
  if (!result) {
    run.error = "execute: " + result.error().message;
    return run;
  }
  run.result = *result;
  if (result->exit_code != 0) {
    run.error =
        "probe exited " + std::to_string(result->exit_code) + ", stderr: " + result->stderr_data;
    return run;
  }
  run.report = nlohmann::json::parse(result->stdout_data, nullptr, /*allow_exceptions=*/false);
  if (run.report.is_discarded()) run.error = "probe output is not JSON: " + result->stdout_data;
  return run;
}

// Runs `request` through a fresh engine; the error message on failure.
inline Result<ExecutionResult> execute_once(Options options, const ExecutionRequest& request) {
  auto engine = Engine::create(std::move(options));
  if (!engine) return std::move(engine).error();
  return (*engine)->execute(request);
}

inline ExecutionRequest bash_request(std::string cmd) {
  ExecutionRequest r;
  r.runtime = "bash";
  r.cmd = std::move(cmd);
  return r;
}

inline ExecutionRequest python_request(std::string code) {
  ExecutionRequest r;
  r.runtime = "python";
  r.code = std::move(code);
  return r;
}

// ---------------------------------------------------------------------------------------------
// The CLI, with a working directory, environment overrides and a guard against hangs

struct CliOptions {
  std::string cwd;  // empty: this process's cwd
  // Variables to set (a value) or remove (nullopt) in the CLI's environment.
  std::map<std::string, std::optional<std::string>> env;
  std::string input;  // fed to the CLI's stdin, then EOF
  // A hung CLI is killed after this long and the run reports hung = true. Not a timing
  // assertion: only a bound so that a hang fails the test instead of blocking the suite.
  std::chrono::milliseconds hang_limit{120000};
  // A command the CLI runs under (its path first, e.g. unshare and a shell), which execs the CLI
  // path and arguments it gets after its own; empty: the CLI is spawned directly.
  std::vector<std::string> launcher;
};

struct CliRun : CliResult {
  int spawn_error = 0;  // errno of posix_spawn, 0 when the CLI started
  bool hung = false;    // killed by the hang guard
  int term_signal = 0;  // the signal that ended the CLI itself, 0 if it exited
  long max_rss_kb = 0;  // peak RSS of the CLI and its reaped children
};

class CliProcess {
 public:
  CliProcess(const std::vector<std::string>& args, CliOptions opts) : opts_(std::move(opts)) {
    ::signal(SIGPIPE, SIG_IGN);
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

  ~CliProcess() {
    if (pid_ > 0 && !reaped_) {
      ::kill(pid_, SIGKILL);
      int status = 0;
      ::waitpid(pid_, &status, 0);
    }
    close_all();
  }
  CliProcess(const CliProcess&) = delete;
  CliProcess& operator=(const CliProcess&) = delete;

  pid_t pid() const { return pid_; }
  bool started() const { return pid_ > 0; }
  int signal(int sig) const { return pid_ > 0 ? ::kill(pid_, sig) : -1; }

  // Feeds stdin, collects stdout/stderr until both close, then reaps the CLI.
  CliRun wait() {
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
    r.wall_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start_)
                    .count();
    r.max_rss_kb = usage.ru_maxrss;
    if (WIFEXITED(status)) {
      r.exit_code = WEXITSTATUS(status);
    } else if (WIFSIGNALED(status)) {
      r.term_signal = WTERMSIG(status);
      r.exit_code = 128 + r.term_signal;
    }
    return r;
  }

 private:
  void drain(int& fd, std::string& into, char* buf, size_t size) {
    const ssize_t k = ::read(fd, buf, size);
    if (k > 0) {
      into.append(buf, static_cast<size_t>(k));
    } else if (k == 0 || (errno != EINTR && errno != EAGAIN)) {
      ::close(fd);
      fd = -1;
    }
  }
  void close_all() {
    for (int* fd : {&in_, &out_, &err_}) {
      if (*fd >= 0) ::close(*fd);
      *fd = -1;
    }
  }

  CliOptions opts_;
  pid_t pid_ = -1;
  int spawn_error_ = 0;
  bool reaped_ = false;
  int in_ = -1, out_ = -1, err_ = -1;
  std::chrono::steady_clock::time_point start_;
};

inline CliRun run_cli_with(const std::vector<std::string>& args, CliOptions opts = {}) {
  CliProcess p(args, std::move(opts));
  return p.wait();
}

// A readable summary of a CLI run for assertion messages.
inline std::string describe(const CliRun& r) {
  std::ostringstream s;
  s << "exit=" << r.exit_code << " signal=" << r.term_signal << " hung=" << r.hung
    << " spawn_error=" << r.spawn_error << " wall_ms=" << r.wall_ms << "\n--- stdout ("
    << r.out.size() << " bytes) ---\n"
    << r.out.substr(0, 2000) << "\n--- stderr (" << r.err.size() << " bytes) ---\n"
    << r.err.substr(0, 2000);
  return s.str();
}

// The CLI in its own temporary working directory and HOME, so that no config file of the
// machine applies. With `id_map_base`, an isol8.config.json there sets native.idMapBase.
class IsolatedCli {
 public:
  explicit IsolatedCli(std::optional<uint32_t> id_map_base = std::nullopt) {
    if (id_map_base) {
      spit(dir_.file("isol8.config.json"),
           nlohmann::json{{"native", {{"idMapBase", *id_map_base}}}}.dump());
    }
  }
  const TempDir& dir() const { return dir_; }
  CliOptions options(std::string input = "") const {
    CliOptions o;
    o.cwd = dir_.path();
    o.env["HOME"] = dir_.path();
    o.input = std::move(input);
    return o;
  }
  CliRun run(const std::vector<std::string>& args, std::string input = "") const {
    return run_cli_with(args, options(std::move(input)));
  }

 private:
  TempDir dir_;
};

// ---------------------------------------------------------------------------------------------
// Fixtures

// Skips (with the reason) where sandboxes cannot be created.
class NativeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string reason = sandbox_unavailable_reason();
    if (!reason.empty()) GTEST_SKIP() << reason;
  }
};

// Also checks that the test leaves nothing behind: no process with the sandbox's host uid (for
// the id map base `base()`, unique to this test process) and the same number of host mounts.
// Runs should use cli() (or options()) so that their sandboxes use that base.
class LeakCheckedTest : public NativeTest {
 protected:
  void SetUp() override {
    NativeTest::SetUp();
    if (IsSkipped()) return;
    mounts_before_ = counted_mounts();
    procs_before_ = pids_with_host_uid(sandbox_host_uid()).size();
  }
  void TearDown() override {
    if (IsSkipped()) return;
    const auto left = pids_with_host_uid(sandbox_host_uid());
    std::string who;
    for (pid_t pid : left) {
      for (const auto& a : cmdline_of(pid)) who += a + " ";
      who += "| ";
    }
    EXPECT_EQ(left.size(), procs_before_)
        << "processes with host uid " << sandbox_host_uid() << " left behind: " << who;
    if (privileged_id_map()) {
      EXPECT_EQ(left.size(), 0u) << "sandbox processes left behind: " << who;
    }
    EXPECT_EQ(counted_mounts(), mounts_before_) << "the host's mount table changed";
    // A leak is reported once; it must not also fail the tests that come after this one.
    if (!left.empty()) kill_leftovers();
  }

  // SIGKILLs the processes that carry this test's sandbox uid (only sandboxes this test process
  // started can: the id map base is its own), then waits a little for them to be gone.
  void kill_leftovers() const {
    if (!privileged_id_map()) return;
    for (pid_t pid : pids_with_host_uid(sandbox_host_uid())) ::kill(pid, SIGKILL);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (!pids_with_host_uid(sandbox_host_uid()).empty() &&
           std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }

  // The host mounts the leak check compares (all of them here).
  virtual size_t counted_mounts() const { return host_mount_count(); }

  uint32_t base() const { return base_; }
  long sandbox_host_uid() const {
    // Without root the sandbox uid is mapped to our own uid (or a subordinate range), and
    // counting our own uid's processes says nothing; only count with a privileged map.
    return privileged_id_map() ? static_cast<long>(base_) + kSandboxUid : -2;
  }
  const IsolatedCli& cli() const { return cli_; }
  Options options() const {
    Options o;
    o.native.id_map_base = base_;
    return o;
  }

 private:
  uint32_t base_ = unique_id_map_base();
  IsolatedCli cli_{base_};
  size_t mounts_before_ = 0;
  size_t procs_before_ = 0;
};

}  // namespace isol8::test
