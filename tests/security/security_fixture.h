#pragma once
// The fixture and helpers of the escape and abuse suite (tests/security); what is not particular
// to attacks comes from the test support library (tests/support/test_support.h).
//
//   - SecurityTest: a TEST_P fixture over backends_under_test() (support/backend_params.h; the
//     security binary links both backends, so every case runs on native and on docker) that
//     extends LeakCheckedTest with two more leak checks run after every test, once the engines
//     of the test are destroyed: no isol8-<pid>-* cgroup directory of this process (or of a CLI
//     it started) is left under /sys/fs/cgroup/*/isol8/, and no process carries a host uid of
//     this test's sandbox id range (init before the drop, the program and its children after).
//     It also compares the host's mountinfo lines, not only their number.
//   - execute()/execute_raw(): one run on a fresh Engine (destroyed before they return), with a
//     hang guard (the public cancel fd) that fails the test instead of blocking the suite.
//   - cli_run(): the isol8 binary with the backend's flags, recorded for the cgroup check.
//   - run_in_forked_runner(): a run from a forked copy of the test process whose process-wide
//     state (signal dispositions) was changed first, bounded in time (a hung runner is killed).
//   - kAttackPrelude + expect_all_denied(): Python attack scripts report every attempt as
//     "DENIED <name> <errno>", "KILLED <name> <signal>" or "ALLOWED <name> <what>".
//   - static_c_binary(): a C attack program compiled at test time with gcc -static, delivered
//     to the sandbox on stdin (binary_request()).
//   - HostSentinel: a host process that must stay out of the sandbox's reach (and, from
//     support/net.h, LoopbackListener: a host socket).

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "isol8/engine.h"
#include "isol8/json.h"
#include "support/test_support.h"

namespace isol8::test::security {

namespace fs = std::filesystem;
using nlohmann::json;

// ---------------------------------------------------------------------------------------------
// Result checks

// (b) of every case: the runner's result is coherent whatever the program did.
inline void expect_sane(const ExecutionResult& r) {
  EXPECT_GE(r.exit_code, 0) << describe(r);
  EXPECT_LE(r.exit_code, 255) << describe(r);
  EXPECT_FALSE(r.execution_id.empty());
  EXPECT_GE(r.duration_ms, 0);
  if (r.term_signal != 0) {
    EXPECT_EQ(r.exit_code, 128 + r.term_signal) << describe(r);
  }
  switch (r.status) {
    case RunStatus::kOk:
      EXPECT_EQ(r.exit_code, 0) << describe(r);
      break;
    case RunStatus::kError:
      EXPECT_NE(r.exit_code, 0) << describe(r);
      break;
    case RunStatus::kTimeout:
      EXPECT_EQ(r.exit_code, 137) << describe(r);
      EXPECT_TRUE(rtrim(r.stderr_data).ends_with(kTimedOutMarker)) << describe(r);
      break;
    case RunStatus::kOom:
      EXPECT_EQ(r.exit_code, 137) << describe(r);
      EXPECT_TRUE(r.oom_killed) << describe(r);
      EXPECT_TRUE(contains(r.stderr_data, "--- OUT OF MEMORY (limit")) << describe(r);
      break;
    case RunStatus::kKilled:
      // The suite only cancels through the hang guard, which reports itself.
      EXPECT_EQ(r.exit_code, 137) << describe(r);
      break;
  }
}

// (a) of the scripted cases: every named attempt was denied (or killed by the kernel), nothing
// was allowed, the script ran to its end ("DONE") and exited 0.
inline void expect_all_denied(const ExecutionResult& r, const std::vector<std::string>& names) {
  std::map<std::string, int> seen;
  for (const std::string& line : lines_of(r.stdout_data)) {
    EXPECT_FALSE(line.starts_with("ALLOWED ")) << "attack succeeded: " << line << "\n"
                                               << describe(r);
    EXPECT_FALSE(line.starts_with("ERROR ")) << "attack script error: " << line;
    std::istringstream f(line);
    std::string verdict, name;
    f >> verdict >> name;
    if (verdict == "DENIED" || verdict == "KILLED" || verdict == "ALLOWED") ++seen[name];
  }
  for (const std::string& name : names) {
    EXPECT_EQ(seen[name], 1) << "attempt " << name << " not reported exactly once\n" << describe(r);
  }
  EXPECT_TRUE(contains(r.stdout_data, "\nDONE") || r.stdout_data.starts_with("DONE"))
      << "the attack script did not finish\n"
      << describe(r);
  EXPECT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_EQ(r.status, RunStatus::kOk) << describe(r);
}

// The value after "<key> " on the line that starts with it, or nullopt.
inline std::optional<std::string> reported(const std::string& text, const std::string& key) {
  for (const std::string& line : lines_of(text)) {
    if (line.rfind(key + " ", 0) == 0) return line.substr(key.size() + 1);
    if (line == key) return std::string();
  }
  return std::nullopt;
}

// ---------------------------------------------------------------------------------------------
// Attack scripts

// Python helpers for attack scripts (python3 of the sandbox's root, ctypes for raw syscalls).
//   sc(nr, *args)       raw syscall: (ret, None) or (-1, 'EPERM')
//   attempt(name, fn)   runs fn in a child and reports DENIED/KILLED/ALLOWED; fn returns
//                       sc()'s tuple (-1 = denied) or raises OSError (denied) or returns
//                       anything else (allowed). The child keeps a success (or a seccomp
//                       kill) from changing the script's own state.
//   done()              prints DONE (expect_all_denied requires it)
inline constexpr const char* kAttackPrelude = R"PY(
import ctypes, errno, os, signal, socket, struct, sys, time
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
def _arg(a):
    return ctypes.c_long(a) if isinstance(a, int) else a
def ename(e):
    return errno.errorcode.get(e, str(e))
def sc(nr, *args):
    ctypes.set_errno(0)
    r = libc.syscall(ctypes.c_long(nr), *[_arg(a) for a in args])
    return (r, ename(ctypes.get_errno())) if r == -1 else (r, None)
def attempt(name, fn):
    sys.stdout.flush()
    pid = os.fork()
    if pid == 0:
        try:
            r = fn()
            if isinstance(r, tuple) and len(r) == 2 and r[0] == -1:
                line = 'DENIED %s %s' % (name, r[1])
            else:
                line = 'ALLOWED %s %r' % (name, r)
        except OSError as e:
            line = 'DENIED %s %s' % (name, ename(e.errno) if e.errno else type(e).__name__)
        except Exception as e:
            line = 'ERROR %s %s: %s' % (name, type(e).__name__, e)
        os.write(1, (line + '\n').encode())
        os._exit(0)
    _, st = os.waitpid(pid, 0)
    if os.WIFSIGNALED(st):
        print('KILLED %s %d' % (name, os.WTERMSIG(st)), flush=True)
def buf(n):
    return ctypes.create_string_buffer(n)
def done():
    print('DONE', flush=True)
)PY";

inline ExecutionRequest attack_script(const std::string& body) {
  ExecutionRequest r;
  r.runtime = "python";
  r.code = std::string(kAttackPrelude) + body + "\ndone()\n";
  return r;
}

// Compiles `source` (C) into a static binary once per test process; the binary's bytes, or ""
// with `error` set.
inline std::string static_c_binary(const std::string& name, const std::string& source,
                                   std::string* error) {
  static TempDir dir;
  static std::map<std::string, std::string> cache;
  if (auto it = cache.find(name); it != cache.end()) return it->second;
  const std::string src = dir.file(name + ".c");
  const std::string out = dir.file(name);
  const std::string log = dir.file(name + ".log");
  if (dir.path().empty() || !spit(src, source)) {
    *error = "cannot write " + src;
    return "";
  }
  const std::string command =
      "gcc -static -O1 -w -o '" + out + "' '" + src + "' > '" + log + "' 2>&1";
  const int rc = std::system(command.c_str());
  if (rc != 0) {
    *error = "gcc failed (" + std::to_string(rc) + "): " + slurp(log);
    return "";
  }
  std::string bytes = slurp(out);
  if (bytes.empty()) *error = "empty binary " + out;
  cache[name] = bytes;
  return bytes;
}

// ---------------------------------------------------------------------------------------------
// Host-side things the sandbox must not reach

// A host process (a forked child of the test, pausing) that the sandbox must not be able to
// signal.
class HostSentinel {
 public:
  HostSentinel() {
    pid_ = ::fork();
    if (pid_ == 0) {
      for (;;) ::pause();
    }
  }
  ~HostSentinel() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  HostSentinel(const HostSentinel&) = delete;
  HostSentinel& operator=(const HostSentinel&) = delete;
  pid_t pid() const { return pid_; }
  // Still running (not exited, not killed, not stopped).
  bool alive() const {
    if (pid_ <= 0) return false;
    int status = 0;
    const pid_t got = ::waitpid(pid_, &status, WNOHANG | WUNTRACED);
    if (got != 0) return false;
    return status_field(pid_, "State").rfind("S", 0) == 0;
  }

 private:
  pid_t pid_ = -1;
};

// ---------------------------------------------------------------------------------------------
// The hang guard: a watchdog that cancels a run through the public cancel fd when it outlives
// `limit`, so that a hung run fails its test instead of blocking the suite.

class HangGuard {
 public:
  explicit HangGuard(std::chrono::milliseconds limit) : fd_(::eventfd(0, EFD_CLOEXEC)) {
    thread_ = std::thread([this, limit] {
      std::unique_lock lock(mutex_);
      if (!cv_.wait_for(lock, limit, [this] { return done_; })) {
        fired_ = true;
        const uint64_t one = 1;
        (void)!::write(fd_, &one, sizeof one);
      }
    });
  }
  ~HangGuard() {
    {
      std::lock_guard lock(mutex_);
      done_ = true;
    }
    cv_.notify_all();
    thread_.join();
    if (fd_ >= 0) ::close(fd_);
  }
  HangGuard(const HangGuard&) = delete;
  HangGuard& operator=(const HangGuard&) = delete;
  RunControl control() const { return RunControl{fd_}; }
  bool fired() const { return fired_; }

 private:
  int fd_;
  std::mutex mutex_;
  std::condition_variable cv_;
  bool done_ = false;
  std::atomic<bool> fired_{false};
  std::thread thread_;
};

// ---------------------------------------------------------------------------------------------
// The fixture

inline constexpr int64_t kDefaultTimeoutMs = 5000;
// Beyond the run's own time limit: what a run may take to be torn down before it counts as hung.
inline constexpr std::chrono::milliseconds kHangMargin{30000};

// Skips a case that attacks the cgroup limits when this user's sandboxes have none.
#define ISOL8_REQUIRE_CGROUP_LIMITS()                                                      \
  do {                                                                                     \
    if (!limits_enforced()) {                                                              \
      GTEST_SKIP() << "no cgroup limits for this user (no delegated cgroup); the suite's " \
                      "run as root covers this case";                                      \
    }                                                                                      \
  } while (0)

// Instantiated with ISOL8_BACKEND_SUITE(fixture).
class SecurityTest : public LeakCheckedTest, public ::testing::WithParamInterface<BackendKind> {
 protected:
  void SetUp() override {
    static std::map<BackendKind, std::string> reasons;
    if (!reasons.count(GetParam())) {
      reasons[GetParam()] = backend_unavailable_reason(GetParam(), base());
    }
    if (!reasons[GetParam()].empty()) GTEST_SKIP() << reasons[GetParam()];
    LeakCheckedTest::SetUp();
    if (IsSkipped()) return;
    owners_ = {::getpid()};
    cgroups_before_ = isol8_cgroups_of(owners_);
    mounts_before_ = host_mounts();
  }

  void TearDown() override {
    if (!IsSkipped()) {
      std::set<std::string> left;
      for (const std::string& dir : isol8_cgroups_of(owners_)) {
        if (!cgroups_before_.count(dir)) left.insert(dir);
      }
      std::string names;
      for (const auto& d : left) names += d + " ";
      EXPECT_TRUE(left.empty()) << "cgroup directories left behind: " << names;

      if (privileged_id_map()) {
        // LeakCheckedTest counts the sandbox user (base + 100); anything else of the range
        // (e.g. an init stuck before its privilege drop) is counted here.
        std::string who;
        for (pid_t pid : pids_with_host_uid_in(base(), 65536)) {
          if (host_real_uid(pid) == sandbox_host_uid()) continue;
          who += std::to_string(pid) + " (uid " + std::to_string(host_real_uid(pid)) + ") ";
          ::kill(pid, SIGKILL);
        }
        EXPECT_TRUE(who.empty()) << "processes of the sandbox id range left behind: " << who;
      }

      std::string added;
      for (const std::string& m : host_mounts()) {
        if (!mounts_before_.count(m)) added += m + "; ";
      }
      EXPECT_TRUE(added.empty()) << "new host mounts: " << added;
    }
    LeakCheckedTest::TearDown();
  }

  BackendKind backend() const { return GetParam(); }
  Options opts() const { return backend_options(GetParam(), base()); }

  // Whether this caller's sandboxes get cgroup limits. A user without a delegated cgroup runs
  // with none (the run says so); the cases that need limits are then covered by the root run.
  bool limits_enforced() const {
    auto engine = Engine::create(opts());
    if (!engine) return false;
    ExecutionRequest req;
    req.runtime = "bash";
    req.cmd = "true";
    auto r = (*engine)->execute(req);
    return r && r->limits.not_enforced.empty();
  }

  // One run on a fresh engine, destroyed before this returns. The error when the engine could
  // not be created or the run failed to happen; a hang fails the test.
  Result<ExecutionResult> execute_raw(ExecutionRequest request,
                                      std::optional<Options> options = std::nullopt) {
    if (!request.timeout_ms) request.timeout_ms = kDefaultTimeoutMs;
    auto engine = Engine::create(options ? *options : opts());
    if (!engine) return std::move(engine).error();
    return execute_on(**engine, request);
  }

  Result<ExecutionResult> execute_on(Engine& engine, ExecutionRequest request) {
    if (!request.timeout_ms) request.timeout_ms = kDefaultTimeoutMs;
    const int64_t timeout = request.timeout_ms.value_or(engine.options().timeout_ms);
    HangGuard guard(std::chrono::milliseconds(timeout) + kHangMargin);
    auto r = engine.execute(request, guard.control());
    EXPECT_FALSE(guard.fired()) << "the run outlived its time limit by " << kHangMargin.count()
                                << " ms and was cancelled: the runner hung";
    return r;
  }

  // Like execute_raw, but a failure to run fails the test, and the result is checked for sanity.
  std::optional<ExecutionResult> execute(ExecutionRequest request,
                                         std::optional<Options> options = std::nullopt) {
    auto r = execute_raw(std::move(request), std::move(options));
    if (!r) {
      ADD_FAILURE() << "execute failed: " << r.error().message;
      return std::nullopt;
    }
    expect_sane(*r);
    return *r;
  }

  // `isol8 run --backend <b> <args...>` in the fixture's isolated cwd/HOME (which sets this
  // test's id map base); its cgroups count in the leak check.
  CliRun cli_run(const std::vector<std::string>& args, std::string input = "") {
    std::vector<std::string> full = {"run"};
    for (const auto& f : backend_cli_flags(GetParam())) full.push_back(f);
    full.insert(full.end(), args.begin(), args.end());
    CliOptions o = cli().options(std::move(input));
    o.hang_limit = std::chrono::milliseconds(60000);
    CliProcess p(full, o);
    if (p.pid() > 0) owners_.insert(p.pid());
    CliRun r = p.wait();
    EXPECT_FALSE(r.hung) << "the CLI hung: " << isol8::test::describe(r);
    EXPECT_EQ(r.term_signal, 0) << "the CLI itself died: " << isol8::test::describe(r);
    return r;
  }

  // A run in a forked copy of this process (the "runner"), after `prepare` changed that copy's
  // process-wide state (signal dispositions, ...). A runner that outlives `limit` is killed and
  // reported as hung; the cgroups it leaves are reclaimed (the next engine removes those of
  // dead runners) and checked by TearDown.
  struct ForkedRunner {
    bool hung = false;
    std::string error;  // the engine's error, or why no result came back
    json result;        // to_json(ExecutionResult) when the run happened
  };
  ForkedRunner run_in_forked_runner(const std::function<void()>& prepare, ExecutionRequest request,
                                    std::chrono::milliseconds limit) {
    ForkedRunner out;
    if (!request.timeout_ms) request.timeout_ms = kDefaultTimeoutMs;
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) {
      out.error = "pipe2 failed";
      return out;
    }
    const Options options = opts();
    const pid_t child = ::fork();
    if (child == 0) {
      ::close(fds[0]);
      prepare();
      json reply;
      auto engine = Engine::create(options);
      if (!engine) {
        reply["error"] = engine.error().message;
      } else if (auto r = (*engine)->execute(request); !r) {
        reply["error"] = r.error().message;
      } else {
        reply["result"] = to_json(*r);
      }
      engine = make_error("destroyed");  // the engine goes before the reply: cgroups removed
      const std::string text = reply.dump();
      size_t off = 0;
      while (off < text.size()) {
        const ssize_t n = ::write(fds[1], text.data() + off, text.size() - off);
        if (n <= 0) break;
        off += static_cast<size_t>(n);
      }
      ::_exit(0);
    }
    ::close(fds[1]);
    if (child < 0) {
      ::close(fds[0]);
      out.error = "fork failed";
      return out;
    }
    owners_.insert(child);
    const auto deadline = std::chrono::steady_clock::now() + limit;
    std::string text;
    for (;;) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) {
        out.hung = true;
        break;
      }
      pollfd p{fds[0], POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
      char buf[65536];
      const ssize_t n = ::read(fds[0], buf, sizeof buf);
      if (n <= 0) break;
      text.append(buf, static_cast<size_t>(n));
    }
    ::close(fds[0]);
    if (out.hung) ::kill(child, SIGKILL);
    int status = 0;
    ::waitpid(child, &status, 0);
    if (out.hung) {
      out.error = "the runner hung (killed after " + std::to_string(limit.count()) + " ms)";
      (void)Engine::create(opts());  // reclaims the dead runner's cgroups
      return out;
    }
    const json reply = json::parse(text, nullptr, false);
    if (reply.is_discarded()) {
      out.error = "the runner died without a reply (wait status " + std::to_string(status) + ")";
    } else if (reply.contains("error")) {
      out.error = reply["error"].get<std::string>();
    } else {
      out.result = reply["result"];
    }
    return out;
  }

  // A static C attack program, or a failed test.
  std::string c_program(const std::string& name, const std::string& source) {
    std::string error;
    std::string bytes = static_c_binary(name, source, &error);
    EXPECT_FALSE(bytes.empty()) << error;
    return bytes;
  }

 private:
  std::set<pid_t> owners_;
  std::set<std::string> cgroups_before_;
  std::set<std::string> mounts_before_;
};

}  // namespace isol8::test::security
