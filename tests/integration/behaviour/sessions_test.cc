// Persistent sessions (Options::mode persistent): one sandbox for all of an engine's executions,
// on every backend. Files, the environment of each execution, time limits, OOM kills, serialized
// executions, the runtime switch refusal, outputPaths and what stop() leaves (the fixture's leak
// check: no process, mount or container after the test).

#include <fcntl.h>
#include <unistd.h>

#include <filesystem>
#include <sstream>
#include <thread>

#include "session_fixture.h"

namespace isol8::test {
namespace {

class Sessions : public SessionTest {};

TEST_P(Sessions, FilesAndBackgroundProcessesPersistBetweenExecutions) {
  START_SESSION(engine, persistent());
  auto first = must_run(*engine, bash_request("echo kept > /sandbox/a.txt; mkdir -p /tmp/d; "
                                              "printf t > /tmp/d/b; "
                                              "sleep 1000 </dev/null >/dev/null 2>&1 & echo $!"));
  EXPECT_EQ(first.exit_code, 0) << describe(first);
  const std::string pid = first.stdout_data;
  auto second = must_run(*engine, bash_request("cat /sandbox/a.txt /tmp/d/b; echo; "
                                               "cat /proc/" +
                                               pid + "/comm"));
  EXPECT_EQ(second.exit_code, 0) << describe(second);
  EXPECT_EQ(second.stdout_data, "kept\nt\nsleep") << describe(second);
  EXPECT_FALSE(second.container_id.empty());
  EXPECT_EQ(second.container_id, first.container_id);
  EXPECT_EQ(engine->container_id(), second.container_id);
}

TEST_P(Sessions, EachExecutionHasItsOwnEnvironmentStdinAndSecrets) {
  Options o = persistent();
  o.secrets["TOKEN"] = "s3cr3t-value";
  START_SESSION(engine, o);
  ExecutionRequest with_env = bash_request("echo \"${FOO:-unset}\"; cat; echo; echo $TOKEN");
  with_env.env["FOO"] = "one";
  with_env.stdin_data = "first stdin";
  auto a = must_run(*engine, with_env);
  EXPECT_EQ(a.stdout_data, "one\nfirst stdin\n***") << describe(a);
  ExecutionRequest plain = bash_request("echo \"${FOO:-unset}\"; cat");
  plain.stdin_data = std::string("second\0stdin", 12);
  auto b = must_run(*engine, plain);
  EXPECT_EQ(b.stdout_data, std::string("unset\nsecond\0stdin", 18)) << describe(b);
}

TEST_P(Sessions, ASecondRuntimeIsRefused) {
  START_SESSION(engine, persistent());
  auto r = engine->execute(python_request("print(1)"));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message,
            "Cannot switch runtime from \"bash\" to \"python\". Each persistent container "
            "supports a single runtime. Create a new Isol8 instance for a different runtime.");
  // The session is still there and usable.
  auto again = must_run(*engine, bash_request("echo still"));
  EXPECT_EQ(again.stdout_data, "still");
}

TEST_P(Sessions, ATimeoutEndsTheExecutionNotTheSession) {
  START_SESSION(engine, persistent());
  must_run(*engine, bash_request("echo before > /sandbox/f"));
  ExecutionRequest slow = bash_request("sleep 77 & sleep 78; echo never");
  slow.timeout_ms = 1000;
  auto t = must_run(*engine, slow);
  EXPECT_EQ(t.status, RunStatus::kTimeout) << describe(t);
  EXPECT_TRUE(contains(t.stderr_data, kTimedOutMarker)) << describe(t);
  auto next = must_run(
      *engine, bash_request("cat /sandbox/f; for c in /proc/[0-9]*/cmdline; do "
                            "tr '\\0' ' ' < $c 2>/dev/null; echo; done | grep -c '^sleep 7' "
                            "|| true"));
  EXPECT_EQ(next.exit_code, 0) << describe(next);
  // The file is still there; the execution's processes (the background one too) are gone.
  EXPECT_EQ(next.stdout_data, "before\n0") << describe(next);
}

TEST_P(Sessions, AnOomKilledExecutionLeavesAWorkingSession) {
  ISOL8_REQUIRE_LIMITS();
  Options o = persistent();
  o.memory_limit_bytes = 128ull << 20;
  START_SESSION(engine, o);
  auto oom = must_run(*engine, bash_request("a=x; while :; do a=$a$a; done"));
  EXPECT_EQ(oom.status, RunStatus::kOom) << describe(oom);
  EXPECT_TRUE(oom.oom_killed) << describe(oom);
  auto next = must_run(*engine, bash_request("echo alive"));
  EXPECT_EQ(next.status, RunStatus::kOk) << describe(next);
  EXPECT_EQ(next.stdout_data, "alive");
  EXPECT_FALSE(next.oom_killed);
}

// The session's pids limit holds a fork bomb, and its time limit ends it: the next execution
// runs (all the bomb's processes were the execution's).
TEST_P(Sessions, AForkBombEndsWithItsExecution) {
  ISOL8_REQUIRE_LIMITS();  // never a fork bomb without a pids limit
  Options o = persistent();
  o.pids_limit = 32;
  START_SESSION(engine, o);
  ExecutionRequest bomb = bash_request("f() { f | f & }; f; sleep 5");
  bomb.timeout_ms = 2000;
  auto b = must_run(*engine, bomb);
  EXPECT_NE(b.status, RunStatus::kOk) << describe(b);
  auto next = must_run(*engine, bash_request("echo alive"));
  EXPECT_EQ(next.stdout_data, "alive") << describe(next);
}

// A cancel (here before the execution even started its program) ends that execution only: the
// session and a background process of an earlier execution stay.
TEST_P(Sessions, ACancelEndsTheExecutionNotTheSession) {
  START_SESSION(engine, persistent());
  auto bg = must_run(*engine, bash_request("sleep 1000 </dev/null >/dev/null 2>&1 & echo $!"));
  int cancel[2];
  ASSERT_EQ(::pipe2(cancel, O_CLOEXEC), 0);
  ASSERT_EQ(::write(cancel[1], "x", 1), 1);
  auto r = engine->execute(bash_request("sleep 30"), RunControl{cancel[0]});
  ::close(cancel[0]);
  ::close(cancel[1]);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->status, RunStatus::kKilled) << describe(*r);
  auto next = must_run(*engine, bash_request("cat /proc/" + bg.stdout_data + "/comm"));
  EXPECT_EQ(next.stdout_data, "sleep") << describe(next);
}

TEST_P(Sessions, ConcurrentExecutionsAreSerialized) {
  START_SESSION(engine, persistent());
  constexpr int kThreads = 4;
  std::vector<ExecutionResult> results(kThreads);
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      const std::string n = std::to_string(i);
      auto r = engine->execute(bash_request("echo begin-" + n +
                                            " >> /sandbox/log; sleep 0.3; "
                                            "echo end-" +
                                            n + " >> /sandbox/log; echo out-" + n));
      if (r) results[i] = *r;
    });
  }
  for (auto& t : threads) t.join();
  for (int i = 0; i < kThreads; ++i) {
    EXPECT_EQ(results[i].stdout_data, "out-" + std::to_string(i)) << describe(results[i]);
  }
  auto log = must_run(*engine, bash_request("cat /sandbox/log"));
  std::istringstream lines(log.stdout_data);
  std::string begin, end;
  int pairs = 0;
  while (std::getline(lines, begin) && std::getline(lines, end)) {
    ASSERT_TRUE(begin.starts_with("begin-")) << log.stdout_data;
    EXPECT_EQ(end, "end-" + begin.substr(6)) << "interleaved executions:\n" << log.stdout_data;
    ++pairs;
  }
  EXPECT_EQ(pairs, kThreads) << log.stdout_data;
}

TEST_P(Sessions, OutputPathsAreReadBackOnPersistentEngines) {
  START_SESSION(engine, persistent());
  ExecutionRequest r = bash_request("printf 'a\\0b' > /sandbox/out.bin; echo done");
  r.output_paths = {"/sandbox/out.bin", "/sandbox/missing.txt"};
  auto result = must_run(*engine, r);
  EXPECT_EQ(result.files.size(), 1u) << describe(result);
  EXPECT_EQ(result.files["/sandbox/out.bin"], "YQBi");  // base64 of "a\0b"
}

TEST_P(Sessions, OutputPathsAreReadBackOnEphemeralEngines) {
  ExecutionRequest r = python_request(
      "open('/tmp/r.txt', 'w').write('result')\nopen('/sandbox/s.txt', 'w').write('x')");
  r.output_paths = {"/tmp/r.txt", "s.txt", "/sandbox/none"};
  auto result = execute_once(options(), r);
  if (!result && contains(result.error().message, "Persistent sessions are not supported")) {
    GTEST_SKIP() << result.error().message;
  }
  ASSERT_TRUE(result) << result.error().message;
  EXPECT_EQ(result->files.size(), 2u) << describe(*result);
  EXPECT_EQ(result->files["/tmp/r.txt"], "cmVzdWx0");  // base64 of "result"
  EXPECT_EQ(result->files["s.txt"], "eA==");
}

TEST_P(Sessions, StopRemovesTheSandboxAndTheNextExecutionStartsANewOne) {
  START_SESSION(engine, persistent());
  must_run(*engine, bash_request("echo x > /sandbox/gone"));
  const std::string first_id = engine->container_id();
  engine->stop();
  EXPECT_EQ(engine->container_id(), "");
  auto put = engine->put_file("/sandbox/x", "y");
  ASSERT_FALSE(put);
  EXPECT_EQ(put.error().message, "No active container. Call execute() first in persistent mode.");
  auto next = must_run(*engine, bash_request("ls /sandbox/gone 2>&1 || echo fresh"));
  EXPECT_TRUE(contains(next.stdout_data, "fresh")) << describe(next);
  EXPECT_NE(engine->container_id(), first_id);
}

size_t open_fds() {
  size_t n = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator("/proc/self/fd")) ++n;
  return n;
}

uint64_t rss_kib() {
  std::istringstream status(slurp("/proc/self/status"));
  std::string line;
  while (std::getline(status, line)) {
    if (line.starts_with("VmRSS:")) return std::stoull(line.substr(6));
  }
  return 0;
}

// A long session costs the runner nothing per execution: after a warm-up, 200 more executions
// leave its fd count as it was and its resident memory within a small bound.
TEST_P(Sessions, TwoHundredExecutionsDoNotGrowTheRunnersFdsOrMemory) {
  START_SESSION(engine, persistent());
  for (int i = 0; i < 10; ++i) must_run(*engine, bash_request("echo warm"));
  const size_t fds_before = open_fds();
  const uint64_t rss_before = rss_kib();
  for (int i = 0; i < 200; ++i) {
    ExecutionRequest r = bash_request("echo " + std::to_string(i) + "; cat > /sandbox/last");
    r.stdin_data = std::string(4096, 'x');
    auto result = must_run(*engine, r);
    ASSERT_EQ(result.stdout_data, std::to_string(i)) << describe(result);
  }
  EXPECT_EQ(open_fds(), fds_before);
  const uint64_t rss_after = rss_kib();
  EXPECT_LT(rss_after, rss_before + 8 * 1024)
      << "the runner's RSS grew from " << rss_before << " KiB to " << rss_after << " KiB";
}

ISOL8_BACKEND_SUITE(Sessions);

}  // namespace
}  // namespace isol8::test
