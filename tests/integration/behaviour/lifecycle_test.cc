// How runs end: exit codes, death by signal, the time limit, the caller's cancellation, SIGINT
// and SIGTERM to the CLI, and processes the program leaves running. Every test also checks (in
// LeakCheckedTest's TearDown) that no sandbox process and no host mount is left behind.

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <iostream>
#include <thread>

#include "support/test_support.h"

namespace isol8::test {
namespace {

using nlohmann::json;

class Lifecycle : public BackendTest {};
// Its cases that only drive the CLI: also through a server (the remote kind).
class LifecycleCli : public CliBackendTest {};

// ---- exit codes

struct ExitCase {
  const char* name;
  std::vector<std::string> args;
  int expected;
};

// Test names in ctest show the case name instead of the struct's bytes.
void PrintTo(const ExitCase& c, std::ostream* os) { *os << c.name; }

class ExitCodes : public CliBackendCaseTest<ExitCase> {};

TEST_P(ExitCodes, ArePropagated) {
  const ExitCase& c = param();
  std::vector<std::string> args = {"run"};
  args.insert(args.end(), c.args.begin(), c.args.end());
  const CliRun r = cli().run(args);
  EXPECT_EQ(r.exit_code, c.expected) << describe(r);
  EXPECT_EQ(r.term_signal, 0) << "the CLI itself died: " << describe(r);
  EXPECT_FALSE(r.hung);
}

const char* case_name(const ExitCase& c) { return c.name; }

ISOL8_CLI_CASES(
    Cases, ExitCodes,
    ::testing::Values(ExitCase{"PythonOk", {"-e", "print('fine')"}, 0},
                      ExitCase{"PythonRaise", {"-e", "raise ValueError('boom')"}, 1},
                      ExitCase{"PythonSysExit42", {"-e", "import sys; sys.exit(42)"}, 42},
                      ExitCase{"BashExit7", {"-r", "bash", "-e", "exit 7"}, 7},
                      ExitCase{"CmdExit255", {"--cmd", "exit 255"}, 255},
                      ExitCase{"NodeExit3", {"-r", "node", "-e", "process.exit(3)"}, 3},
                      ExitCase{"KilledBySigkill", {"--cmd", "kill -9 $$"}, 137},
                      ExitCase{"KilledBySigterm", {"--cmd", "kill -TERM $$"}, 143},
                      ExitCase{"PythonSegfault",
                               {"-e", "import os, signal; os.kill(os.getpid(), signal.SIGSEGV)"},
                               139}),
    case_name);

TEST_P(LifecycleCli, PythonExceptionGoesToStderr) {
  const CliRun r = cli().run({"run", "-e", "raise ValueError('boom')"});
  EXPECT_EQ(r.exit_code, 1) << describe(r);
  EXPECT_TRUE(contains(r.err, "ValueError: boom")) << describe(r);
  EXPECT_TRUE(r.out.empty()) << describe(r);
}

TEST_P(LifecycleCli, JsonReportsTheKillingSignal) {
  const CliRun r = cli().run({"run", "--json", "--cmd", "kill -9 $$"});
  EXPECT_EQ(r.exit_code, 137) << describe(r);
  const json j = json::parse(r.out, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << r.out;
  EXPECT_EQ(j["exitCode"], 137);
  if (is_docker()) {
    // The daemon reports the container's exit status only (docker-init exits 128+signal): a
    // signal cannot be told from exit(137), so no "signal" field is claimed.
    EXPECT_FALSE(j.contains("signal")) << j;
  } else {
    EXPECT_EQ(j["signal"], SIGKILL);
  }
  EXPECT_EQ(j["status"], "error");
}

// ---- the time limit

TEST_P(LifecycleCli, TimeoutKillsTheRunWith137) {
  const CliRun r = cli().run({"run", "--timeout", "1000", "-e", "import time; time.sleep(30)"});
  std::cout << "[ measured ] --timeout 1000 on time.sleep(30): CLI wall time " << r.wall_ms
            << " ms\n";
  RecordProperty("timeout_1000_wall_ms", static_cast<int>(r.wall_ms));
  EXPECT_EQ(r.exit_code, 137) << describe(r);
  EXPECT_LT(r.wall_ms, 5000.0) << "a 1 s time limit took far too long to apply";
  const std::string err = rtrim(r.err);
  EXPECT_TRUE(err.ends_with("--- EXECUTION TIMED OUT ---")) << describe(r);
}

TEST_P(LifecycleCli, TimeoutInJsonMode) {
  const CliRun r =
      cli().run({"run", "--json", "--timeout", "500", "-e", "import time; time.sleep(30)"});
  EXPECT_EQ(r.exit_code, 137) << describe(r);
  const json j = json::parse(r.out, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << r.out;
  EXPECT_EQ(j["exitCode"], 137);
  EXPECT_EQ(j["status"], "timeout");
  EXPECT_TRUE(j["stderr"].get<std::string>().ends_with("--- EXECUTION TIMED OUT ---")) << j;
}

TEST_P(Lifecycle, TimeoutStreamEventsEndWithErrorThenExit137) {
  auto engine = Engine::create(options());
  ASSERT_TRUE(engine) << engine.error().message;
  ExecutionRequest req = python_request("import time\nprint('before', flush=True)\ntime.sleep(30)");
  req.timeout_ms = 500;
  std::vector<StreamEvent> events;
  auto r = (*engine)->execute_stream(req, [&](const StreamEvent& e) { events.push_back(e); });
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->status, RunStatus::kTimeout);
  EXPECT_EQ(r->exit_code, 137);
  EXPECT_EQ(r->stdout_data, "before");
  ASSERT_GE(events.size(), 3u);
  EXPECT_EQ(events[events.size() - 2].type, StreamEvent::Type::kError);
  EXPECT_EQ(events[events.size() - 2].data, "EXECUTION TIMED OUT");
  EXPECT_EQ(events.back().type, StreamEvent::Type::kExit);
  EXPECT_EQ(events.back().data, "137");
}

TEST_P(LifecycleCli, TimeoutAlsoKillsBackgroundProcesses) {
  const CliRun r = cli().run({"run", "--timeout", "1000", "--cmd",
                              "sleep 1000 & (setsid sleep 1001 >/dev/null 2>&1 &); sleep 1002"});
  EXPECT_EQ(r.exit_code, 137) << describe(r);
  EXPECT_FALSE(r.hung) << describe(r);
  // LeakCheckedTest::TearDown checks that none of the sleeps survived.
}

// ---- processes left running

TEST_P(LifecycleCli, BackgroundProcessIsGoneAfterTheRun) {
  const CliRun r = cli().run({"run", "--cmd", "sleep 1000 & echo started"});
  EXPECT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_EQ(r.out, "started\n");
  EXPECT_FALSE(r.hung) << "the run waited for the background sleep: " << describe(r);
  if (privileged_id_map()) {
    EXPECT_TRUE(pids_with_host_uid(sandbox_host_uid()).empty());
  }
}

TEST_P(LifecycleCli, DoubleForkedSetsidDaemonIsGoneAfterTheRun) {
  const CliRun r = cli().run({"run", "-e",
                              "import os, time\n"
                              "if os.fork() == 0:\n"
                              "    os.setsid()\n"
                              "    if os.fork() == 0:\n"
                              "        fd = os.open('/dev/null', os.O_RDWR)\n"
                              "        for i in (0, 1, 2): os.dup2(fd, i)\n"
                              "        time.sleep(1000)\n"
                              "    os._exit(0)\n"
                              "os.wait()\n"
                              "print('parent done')\n"});
  EXPECT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_EQ(r.out, "parent done\n");
  EXPECT_FALSE(r.hung) << describe(r);
  if (privileged_id_map()) {
    EXPECT_TRUE(pids_with_host_uid(sandbox_host_uid()).empty());
  }
}

TEST_P(LifecycleCli, ProgramClosingStdoutThenWritingStderr) {
  const CliRun r =
      cli().run({"run", "--cmd", "exec 1>&-; echo err-after-close >&2; echo lost; exit 3"});
  EXPECT_EQ(r.exit_code, 3) << describe(r);
  EXPECT_TRUE(contains(r.err, "err-after-close")) << describe(r);
  EXPECT_TRUE(r.out.empty()) << describe(r);
  EXPECT_FALSE(r.hung);
}

TEST_P(LifecycleCli, ProgramClosingAllOutputStillEnds) {
  const CliRun r = cli().run({"run", "--cmd", "exec 1>&- 2>&-; sleep 0.2; exit 5"});
  EXPECT_EQ(r.exit_code, 5) << describe(r);
  EXPECT_FALSE(r.hung);
}

// ---- cancellation

class CliSignals : public CliBackendCaseTest<int /*signal*/> {
 protected:
  // Whether the sandboxed `sleep <token>` (process `pid`) is gone. Locally the CLI ends it before
  // it exits. Through a server, a buffered run has no message to send: the CLI hangs up and the
  // server stops the program when it sees the connection close, a moment after the CLI is gone
  // (a streamed run sends the signal message and waits for the exit event).
  bool sleep_gone(pid_t pid, const std::string& token) const {
    const std::vector<std::string> argv = {"sleep", token};
    const auto deadline = std::chrono::steady_clock::now() +
                          (is_remote() ? std::chrono::seconds(5) : std::chrono::seconds(0));
    while (cmdline_of(pid) == argv) {
      if (std::chrono::steady_clock::now() >= deadline) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return true;
  }
};

TEST_P(CliSignals, SignalToTheCliKillsTheSandbox) {
  const int sig = param();
  const std::string token = "88." + std::to_string(::getpid());
  CliProcess proc(cli().args({"run", "--cmd", "sleep " + token}), cli().options());
  ASSERT_TRUE(proc.started());
  const auto pid = wait_for_process({"sleep", token}, std::chrono::seconds(20));
  ASSERT_TRUE(pid.has_value()) << "the sandboxed sleep never appeared";
  ASSERT_EQ(proc.signal(sig), 0);
  const CliRun r = proc.wait();
  EXPECT_EQ(r.exit_code, 128 + sig) << describe(r);
  EXPECT_EQ(r.term_signal, 0) << "the CLI died of the signal instead of cleaning up";
  EXPECT_FALSE(r.hung);
  EXPECT_TRUE(sleep_gone(*pid, token)) << "the sandboxed sleep outlived the CLI";
}

const char* signal_name(int sig) { return sig == SIGINT ? "Sigint" : "Sigterm"; }

ISOL8_CLI_CASES(Signals, CliSignals, ::testing::Values(SIGINT, SIGTERM), signal_name);

TEST_P(CliSignals, SignalInJsonModeToo) {
  const int sig = param();
  const std::string token = "89." + std::to_string(::getpid());
  CliProcess proc(cli().args({"run", "--json", "--cmd", "sleep " + token}), cli().options());
  ASSERT_TRUE(proc.started());
  const auto pid = wait_for_process({"sleep", token}, std::chrono::seconds(20));
  ASSERT_TRUE(pid.has_value()) << "the sandboxed sleep never appeared";
  ASSERT_EQ(proc.signal(sig), 0);
  const CliRun r = proc.wait();
  EXPECT_EQ(r.exit_code, 128 + sig) << describe(r);
  EXPECT_TRUE(sleep_gone(*pid, token)) << "the sandboxed sleep outlived the CLI";
}

TEST_P(Lifecycle, CancelFdKillsTheRun) {
  auto engine = Engine::create(options());
  ASSERT_TRUE(engine) << engine.error().message;
  int cancel[2];
  ASSERT_EQ(::pipe2(cancel, O_CLOEXEC), 0);
  const std::string token = "90." + std::to_string(::getpid());
  // The canceller is a forked process, not a thread: this test must not depend on how the
  // engine copes with other threads in its caller (see threaded_caller_test.cc).
  const pid_t canceller = ::fork();
  ASSERT_GE(canceller, 0);
  if (canceller == 0) {
    ::close(cancel[0]);
    const bool found = wait_for_process({"sleep", token}, std::chrono::seconds(20)).has_value();
    if (found) (void)!::write(cancel[1], "x", 1);
    _exit(found ? 0 : 1);
  }
  ::close(cancel[1]);
  auto r = (*engine)->execute(bash_request("sleep " + token), RunControl{cancel[0]});
  ::close(cancel[0]);
  int status = 0;
  ::waitpid(canceller, &status, 0);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "the sleep never appeared";
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->status, RunStatus::kKilled);
  EXPECT_EQ(r->exit_code, 137);
}

TEST_P(Lifecycle, EngineIsReusableAcrossRuns) {
  auto engine = Engine::create(options());
  ASSERT_TRUE(engine) << engine.error().message;
  for (int i = 0; i < 5; ++i) {
    auto r = (*engine)->execute(python_request("print(" + std::to_string(i) + " * 2)"));
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(r->stdout_data, std::to_string(i * 2));
    EXPECT_EQ(r->exit_code, 0);
  }
}

ISOL8_BACKEND_SUITE(Lifecycle);
ISOL8_CLI_SUITE(LifecycleCli);

}  // namespace
}  // namespace isol8::test
