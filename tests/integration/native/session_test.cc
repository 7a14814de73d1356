// Persistent sessions on the native backend (Options::mode persistent): one sandbox whose init
// starts each execution, files and background processes kept between executions, file transfer
// beneath /sandbox and /tmp only, per-execution timeouts, and nothing left behind.

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <thread>

#include "support/test_support.h"

namespace isol8::test {
namespace {

class NativeSession : public LeakCheckedTest {
 protected:
  std::unique_ptr<Engine> persistent_engine(Options o) {
    o.mode = EngineMode::kPersistent;
    auto engine = Engine::create(o);
    EXPECT_TRUE(engine) << (engine ? "" : engine.error().message);
    return engine ? std::move(engine).value() : nullptr;
  }
  std::unique_ptr<Engine> persistent_engine() { return persistent_engine(options()); }

  // Runs `cmd` with bash in the session; the result, or a failure naming the error.
  static ExecutionResult bash(Engine& engine, const std::string& cmd, int64_t timeout_ms = 20000) {
    ExecutionRequest req = bash_request(cmd);
    req.timeout_ms = timeout_ms;
    auto r = engine.execute(req);
    EXPECT_TRUE(r) << cmd << ": " << (r ? "" : r.error().message);
    return r ? std::move(r).value() : ExecutionResult{};
  }
};

// Whether the sandbox of `r` had the limit `name` ("memory", "pids") applied.
bool enforced(const ExecutionResult& r, const std::string& name) {
  return std::find(r.limits.enforced.begin(), r.limits.enforced.end(), name) !=
         r.limits.enforced.end();
}

size_t open_fd_count() {
  size_t n = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator("/proc/self/fd")) ++n;
  return n;
}

uint64_t rss_kb() {
  for (const auto& line : lines_of(slurp("/proc/self/status"))) {
    if (line.starts_with("VmRSS:")) return std::stoull(line.substr(6));
  }
  return 0;
}

TEST_F(NativeSession, FilesPersistAcrossExecutionsInOneSandbox) {
  auto engine = persistent_engine();
  ASSERT_TRUE(engine);
  const auto first = bash(*engine,
                          "echo kept > /sandbox/a.txt && mkdir -p /tmp/d && "
                          "echo tmp > /tmp/d/b && echo $$ > /sandbox/first-pid");
  EXPECT_EQ(first.status, RunStatus::kOk) << first.stderr_data;
  EXPECT_FALSE(first.container_id.empty());
  const auto second = bash(*engine, "cat /sandbox/a.txt /tmp/d/b");
  EXPECT_EQ(second.stdout_data, "kept\ntmp") << second.stderr_data;
  EXPECT_EQ(second.container_id, first.container_id);
  EXPECT_EQ(engine->container_id(), first.container_id);
  // Each execution is a new process, under the same init.
  const auto third = bash(*engine,
                          "test $$ != $(cat /sandbox/first-pid) && echo new-process; "
                          "cat /proc/1/cmdline >/dev/null; echo uid=$(id -u)");
  EXPECT_EQ(third.stdout_data, "new-process\nuid=100") << third.stderr_data;
  // A python execution in a python session: its code file is written per execution.
  auto py = persistent_engine();
  ASSERT_TRUE(py);
  ASSERT_TRUE(py->execute(python_request("open('/sandbox/x','w').write('py')")));
  auto again = py->execute(python_request("print(open('/sandbox/x').read())"));
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_EQ(again->stdout_data, "py") << again->stderr_data;
}

TEST_F(NativeSession, ABackgroundProcessSurvivesToTheNextExecution) {
  auto engine = persistent_engine();
  ASSERT_TRUE(engine);
  // The background sleep holds the execution's stdout: the execution still ends when bash does.
  const auto start = bash(*engine, "sleep 300 & echo $! > /tmp/bg.pid; echo started", 15000);
  EXPECT_EQ(start.status, RunStatus::kOk) << start.stderr_data;
  EXPECT_EQ(start.stdout_data, "started");
  const auto check = bash(*engine, "kill -0 $(cat /tmp/bg.pid) && echo alive");
  EXPECT_EQ(check.stdout_data, "alive") << check.stderr_data;
  // It belongs to the session's init now.
  const auto parent = bash(*engine, "awk '/^PPid/{print $2}' /proc/$(cat /tmp/bg.pid)/status");
  EXPECT_EQ(parent.stdout_data, "1");
}

TEST_F(NativeSession, ATimeoutEndsThatExecutionOnlyWithEveryProcessItStarted) {
  auto engine = persistent_engine();
  ASSERT_TRUE(engine);
  EXPECT_EQ(bash(*engine, "echo before > /sandbox/kept").status, RunStatus::kOk);
  // A daemonized grandchild (setsid, its parent gone) is still the execution's.
  const auto slow = bash(*engine, "(setsid sleep 161 &) ; sleep 160", 1000);
  EXPECT_EQ(slow.status, RunStatus::kTimeout);
  EXPECT_TRUE(contains(slow.stderr_data, "EXECUTION TIMED OUT")) << slow.stderr_data;
  const auto after =
      bash(*engine,
           "cat /sandbox/kept; for p in /proc/[0-9]*; do "
           "tr '\\0' ' ' < $p/cmdline 2>/dev/null; echo; done | grep -c '^sleep 16'");
  EXPECT_EQ(after.stdout_data, "before\n0") << after.stderr_data;
}

TEST_F(NativeSession, ASecondRuntimeIsRefused) {
  auto engine = persistent_engine();
  ASSERT_TRUE(engine);
  ASSERT_TRUE(engine->execute(python_request("print(1)")));
  auto r = engine->execute(bash_request("echo no"));
  ASSERT_FALSE(r);
  EXPECT_TRUE(contains(r.error().message,
                       "Cannot switch runtime from \"python\" to \"bash\". "
                       "Each persistent container supports a single runtime."))
      << r.error().message;
}

TEST_F(NativeSession, FilesRoundTripBinarySafeAsTheSandboxUser) {
  auto engine = persistent_engine();
  ASSERT_TRUE(engine);
  auto early = engine->put_file("/sandbox/early", "x");
  ASSERT_FALSE(early);
  EXPECT_TRUE(contains(early.error().message, "No active container")) << early.error().message;
  bash(*engine, "true");
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"/sandbox/empty", ""},
      {"/sandbox/one", "z"},
      {"/sandbox/deep/er/big.bin", garbage_bytes(5u << 20, true)},
      {"/tmp/nul", std::string("a\0b\0\0c\xff\xfe", 8)},
  };
  for (const auto& [path, content] : cases) {
    auto put = engine->put_file(path, content);
    ASSERT_TRUE(put) << path << ": " << put.error().message;
    auto got = engine->get_file(path);
    ASSERT_TRUE(got) << path << ": " << got.error().message;
    EXPECT_EQ(got->size(), content.size()) << path;
    EXPECT_TRUE(*got == content) << path;
  }
  const auto seen = bash(*engine,
                         "stat -c '%u %g %a %s' /sandbox/deep/er/big.bin; stat -c '%u %a' "
                         "/sandbox/deep/er; cmp -s /sandbox/one <(printf z) && echo same");
  EXPECT_EQ(seen.stdout_data, "100 101 644 5242880\n100 755\nsame") << seen.stderr_data;
  // Overwriting truncates; a file written by the program comes back as it wrote it.
  ASSERT_TRUE(engine->put_file("/sandbox/one", "longer"));
  ASSERT_TRUE(engine->put_file("/sandbox/one", "s"));
  EXPECT_EQ(*engine->get_file("/sandbox/one"), "s");
  bash(*engine, "printf 'from\\0program' > /sandbox/out");
  EXPECT_EQ(*engine->get_file("/sandbox/out"), std::string("from\0program", 12));
  // A symbolic link to a directory inside /sandbox is followed.
  bash(*engine, "mkdir -p /sandbox/real && ln -s real /sandbox/alias");
  ASSERT_TRUE(engine->put_file("/sandbox/alias/f", "via link"));
  EXPECT_EQ(bash(*engine, "cat /sandbox/real/f").stdout_data, "via link");
}

TEST_F(NativeSession, PathAttacksAreRefused) {
  auto engine = persistent_engine();
  ASSERT_TRUE(engine);
  // What earlier untrusted code could plant.
  const auto planted = bash(*engine,
                            "cd /sandbox && ln -s /etc etc_link && ln -s /proc/1/root root_link && "
                            "ln -s /etc/passwd passwd_link && mkdir -p sub && "
                            "ln -s ../../etc sub/up && ln -s /tmp tmp_link && mkfifo fifo && "
                            "mkdir dir && ln -s /proc/self/fd/3 fd_link && echo planted");
  ASSERT_EQ(planted.stdout_data, "planted") << planted.stderr_data;
  const std::vector<std::string> reads = {
      "/sandbox/../etc/passwd", "/sandbox/etc_link/passwd", "/sandbox/root_link/etc/passwd",
      "/sandbox/passwd_link",   "/sandbox/sub/up/passwd",   "/sandbox/fifo",
      "/sandbox/dir",           "/sandbox/fd_link",         "/etc/passwd",
      "/proc/1/environ",        "/sandbox/tmp_link/x",      "/tmp/../etc/shadow",
  };
  for (const auto& path : reads) {
    auto got = engine->get_file(path);
    EXPECT_FALSE(got) << "read " << path << " was allowed";
    if (!got) {
      EXPECT_FALSE(got.error().message.empty());
    }
  }
  const std::vector<std::string> writes = {
      "/sandbox/../etc/x",
      "/sandbox/etc_link/x",
      "/sandbox/root_link/tmp/x",
      "/sandbox/sub/up/x",
      "/sandbox/fifo",
      "/sandbox/dir",
      "/sandbox/passwd_link",
      "/usr/x",
      "/sandbox/root_link/sandbox/x",
  };
  for (const auto& path : writes) {
    auto put = engine->put_file(path, "owned");
    EXPECT_FALSE(put) << "write " << path << " was allowed";
  }
  // The messages name the path and the rule.
  auto link = engine->get_file("/sandbox/etc_link/passwd");
  ASSERT_FALSE(link);
  EXPECT_TRUE(contains(link.error().message, "/sandbox/etc_link/passwd")) << link.error().message;
  EXPECT_TRUE(contains(link.error().message, "refused")) << link.error().message;
  auto fifo = engine->get_file("/sandbox/fifo");
  ASSERT_FALSE(fifo);
  EXPECT_TRUE(contains(fifo.error().message, "not a regular file")) << fifo.error().message;
  // Nothing was written anywhere, and the session still works.
  const auto after = bash(*engine,
                          "ls /sandbox/root_link/sandbox/x /tmp/x 2>&1 | wc -l; "
                          "test -p /sandbox/fifo && echo ok");
  EXPECT_TRUE(contains(after.stdout_data, "ok")) << after.stderr_data;
  EXPECT_FALSE(engine->get_file("/sandbox/root_link/sandbox/x"));
}

TEST_F(NativeSession, ConcurrentExecutionsAreSerializedWithTheirOwnOutput) {
  auto engine = persistent_engine();
  ASSERT_TRUE(engine);
  std::atomic<int> wrong{0};
  std::string failures;
  std::mutex failures_mutex;
  auto worker = [&](int t) {
    for (int i = 0; i < 8; ++i) {
      const std::string tag = "t" + std::to_string(t) + "-" + std::to_string(i);
      ExecutionRequest req = bash_request("echo " + tag + "; sleep 0.02; echo " + tag + " >&2");
      req.timeout_ms = 20000;
      auto r = engine->execute(req);
      if (!r || r->stdout_data != tag || r->stderr_data != tag) {
        ++wrong;
        std::lock_guard lock(failures_mutex);
        failures +=
            tag + ": " + (r ? r->stdout_data + "|" + r->stderr_data : r.error().message) + "\n";
      }
    }
  };
  std::thread a(worker, 1), b(worker, 2);
  a.join();
  b.join();
  EXPECT_EQ(wrong, 0) << failures;
}

TEST_F(NativeSession, AnOomKilledExecutionLeavesTheSessionUsable) {
  Options o = options();
  o.memory_limit_bytes = 64ull << 20;
  auto engine = persistent_engine(o);
  ASSERT_TRUE(engine);
  if (!enforced(bash(*engine, "echo survives > /sandbox/f"), "memory")) {
    GTEST_SKIP() << "the memory limit is not enforced here (no usable cgroup)";
  }
  // tail keeps everything it reads from a source with no newline: it grows until killed.
  const auto hog = bash(*engine, "head -c 400m /dev/zero | tail -c 300m > /dev/null");
  EXPECT_NE(hog.exit_code, 0);
  EXPECT_TRUE(hog.oom_killed || hog.exit_code == 137) << hog.exit_code << " " << hog.stderr_data;
  const auto next = bash(*engine, "cat /sandbox/f");
  EXPECT_EQ(next.status, RunStatus::kOk) << next.stderr_data;
  EXPECT_EQ(next.stdout_data, "survives");
  EXPECT_FALSE(next.oom_killed);
}

TEST_F(NativeSession, AForkBombDoesNotStarveTheNextExecution) {
  Options o = options();
  o.pids_limit = 32;
  auto engine = persistent_engine(o);
  ASSERT_TRUE(engine);
  // Without a pids limit a fork bomb would take the machine.
  if (!enforced(bash(*engine, "true"), "pids")) {
    GTEST_SKIP() << "the pids limit is not enforced here (no usable cgroup)";
  }
  // The bomb's processes are the execution's while it runs: the timeout ends all of them.
  const auto bomb = bash(*engine, "b() { b | b & }; b; sleep 30", 2000);
  EXPECT_EQ(bomb.status, RunStatus::kTimeout) << bomb.stderr_data;
  const auto next = bash(*engine, "echo fine");
  EXPECT_EQ(next.status, RunStatus::kOk) << next.stderr_data;
  EXPECT_EQ(next.stdout_data, "fine");
  // A bomb left running in the background when its execution ended holds the session's pids:
  // the next execution starts, or is refused with a message that says why.
  bash(*engine, "b() { b | b & }; b; sleep 0.5", 5000);
  ExecutionRequest req = bash_request("echo later");
  req.timeout_ms = 5000;
  auto later = engine->execute(req);
  if (!later) {
    EXPECT_TRUE(contains(later.error().message, "process limit")) << later.error().message;
  }
}

TEST_F(NativeSession, TwoHundredExecutionsDoNotGrowTheRunner) {
  auto engine = persistent_engine();
  ASSERT_TRUE(engine);
  for (int i = 0; i < 5; ++i) bash(*engine, "true");
  const size_t fds_before = open_fd_count();
  const uint64_t rss_before = rss_kb();
  int bad = 0;
  for (int i = 0; i < 200; ++i) {
    ExecutionRequest req = bash_request("echo " + std::to_string(i));
    req.timeout_ms = 20000;
    auto r = engine->execute(req);
    if (!r || r->stdout_data != std::to_string(i)) ++bad;
  }
  EXPECT_EQ(bad, 0);
  EXPECT_EQ(open_fd_count(), fds_before);
  // Bounded, not exact: the allocator keeps some pages.
  EXPECT_LT(rss_kb(), rss_before + 8 * 1024) << "RSS grew from " << rss_before << " kB";
}

TEST_F(NativeSession, StopRemovesTheSandboxAndItsCgroup) {
  auto engine = persistent_engine();
  ASSERT_TRUE(engine);
  bash(*engine, "sleep 300 > /dev/null 2>&1 & sleep 300 & echo bg");
  if (privileged_id_map()) {
    EXPECT_FALSE(pids_with_host_uid(sandbox_host_uid()).empty());
  }
  const auto cgroups = isol8_cgroups_of({::getpid()});
  engine->stop();
  EXPECT_TRUE(engine->container_id().empty());
  for (const auto& c : cgroups) EXPECT_FALSE(std::filesystem::exists(c)) << c;
  if (privileged_id_map()) {
    EXPECT_TRUE(pids_with_host_uid(sandbox_host_uid()).empty());
  }
  // A stopped engine starts a new session on the next execution.
  EXPECT_EQ(bash(*engine, "ls /sandbox | wc -l").stdout_data, "0");
  engine.reset();
  EXPECT_TRUE(isol8_cgroups_of({::getpid()}).empty());
}

TEST_F(NativeSession, ASigkilledRunnerWithALiveSessionLeavesNothingAfterReclaim) {
  const std::string token = "93." + std::to_string(::getpid());
  CliProcess proc({"run", "--persistent", "--cmd", "sleep " + token + " & sleep " + token + "1"},
                  cli().options());
  ASSERT_TRUE(proc.started());
  const auto pid = wait_for_process({"sleep", token}, std::chrono::seconds(20));
  ASSERT_TRUE(pid.has_value()) << "the sandboxed sleep never appeared";
  const pid_t runner = proc.pid();
  ASSERT_EQ(proc.signal(SIGKILL), 0);
  proc.wait();
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  bool gone = false;
  while (!gone && std::chrono::steady_clock::now() < deadline) {
    gone = cmdline_of(*pid) != std::vector<std::string>{"sleep", token} &&
           (!privileged_id_map() || pids_with_host_uid(sandbox_host_uid()).empty());
    if (!gone) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_TRUE(gone) << "the session's sandbox outlived its SIGKILLed runner by 10 s";
  // The next engine's start reclaims the dead runner's cgroup.
  auto engine = Engine::create(options());
  ASSERT_TRUE(engine);
  EXPECT_TRUE(isol8_cgroups_of({runner}).empty());
}

TEST_F(NativeSession, OutputPathsSetupScriptsAndStdinWorkInSessions) {
  // An ephemeral engine reads outputPaths from a one-use session.
  auto ephemeral = Engine::create(options());
  ASSERT_TRUE(ephemeral);
  ExecutionRequest req = bash_request("printf 'a\\0b' > /sandbox/out.bin; echo hi > /tmp/t");
  req.output_paths = {"/sandbox/out.bin", "/tmp/t", "/sandbox/missing", "relative.txt"};
  req.timeout_ms = 20000;
  auto r = (*ephemeral)->execute(req);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->files.size(), 2u);
  EXPECT_EQ(r->files["/sandbox/out.bin"], "YQBi");
  EXPECT_EQ(r->files["/tmp/t"], "aGkK");
  // A persistent engine: the setup script runs per execution, stdin is this execution's.
  auto engine = persistent_engine();
  ASSERT_TRUE(engine);
  for (const std::string input : {"first", "second"}) {
    ExecutionRequest with_setup = bash_request("cat /sandbox/s; cat");
    with_setup.setup_script = "echo setup-" + input + " > /sandbox/s";
    with_setup.stdin_data = input;
    with_setup.timeout_ms = 20000;
    auto ran = engine->execute(with_setup);
    ASSERT_TRUE(ran) << ran.error().message;
    EXPECT_EQ(ran->stdout_data, "setup-" + input + "\n" + input) << ran->stderr_data;
  }
  ExecutionRequest failing = bash_request("echo never");
  failing.setup_script = "echo broken >&2; exit 3";
  auto failed = engine->execute(failing);
  ASSERT_FALSE(failed);
  EXPECT_TRUE(contains(failed.error().message, "Setup script failed (exit code 3)"))
      << failed.error().message;
  EXPECT_EQ(bash(*engine, "echo still-fine").stdout_data, "still-fine");
}

TEST_F(NativeSession, TheCliRunsPersistentOnce) {
  const CliRun r =
      cli().run({"run", "--persistent", "--cmd", "echo hi; echo x > /sandbox/y; cat /sandbox/y"});
  EXPECT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_EQ(rtrim(r.out), "hi\nx");
}

}  // namespace
}  // namespace isol8::test
