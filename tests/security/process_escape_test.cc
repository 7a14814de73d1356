// Signals: killing everything in reach, the sandbox's init, and processes of the host. Host
// processes live in another pid namespace, so the sandbox cannot even name them; a sentinel
// process started by the test must survive whatever the sandbox sends.

#include <chrono>

#include "security/security_fixture.h"

namespace isol8::test::security {
namespace {

using Clock = std::chrono::steady_clock;

class ProcessEscape : public SecurityTest {};

TEST_P(ProcessEscape, KillMinusNineMinusOne) {
  HostSentinel sentinel;
  ASSERT_GT(sentinel.pid(), 0);
  auto r =
      execute(bash_request("sleep 100 & sleep 100 & kill -9 -1; wait; echo after-kill; "
                           "bash -c 'kill -9 -1'; echo unreachable"));
  ASSERT_TRUE(r);
  // bash's own kill(-1) spares bash; a child bash's kills the program's bash (137; a child
  // shell rather than /bin/kill, which runtime roots without procps lack). Either way the
  // runner reports it and the run ends at once, not at the time limit.
  EXPECT_EQ(r->exit_code, 137) << describe(*r);
  // Docker reports only an exit code (128 + the signal), not whether a signal ended the program.
  EXPECT_EQ(r->term_signal, backend() == BackendKind::kDocker ? 0 : SIGKILL) << describe(*r);
  EXPECT_EQ(r->status, RunStatus::kError) << describe(*r);
  EXPECT_EQ(r->stdout_data, "after-kill") << describe(*r);
  EXPECT_TRUE(sentinel.alive()) << "a host process was killed by the sandbox";
}

TEST_P(ProcessEscape, KillMinusOneFromPython) {
  HostSentinel sentinel;
  ASSERT_GT(sentinel.pid(), 0);
  auto r =
      execute(python_request("import os, signal, subprocess\n"
                             "kids = [subprocess.Popen(['sleep', '100']) for i in range(3)]\n"
                             "for sig in (signal.SIGSTOP, signal.SIGTERM, signal.SIGKILL):\n"
                             "    os.kill(-1, sig)\n"
                             "print('reaped', all(k.wait() < 0 for k in kids))\n"
                             "print('alive')\n"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, RunStatus::kOk) << describe(*r);
  EXPECT_EQ(r->stdout_data, "reaped True\nalive") << describe(*r);
  EXPECT_TRUE(sentinel.alive());
}

TEST_P(ProcessEscape, SignalsToTheSandboxInitAreIgnored) {
  // pid 1 of a pid namespace gets from inside only the signals it handles: none of these may
  // kill, stop or confuse the init that reports the program's status.
  const auto start = Clock::now();
  auto r =
      execute(python_request("import os, signal, time\n"
                             "sent = 0\n"
                             "for sig in range(1, 65):\n"
                             "    if sig in (32, 33):\n"
                             "        continue\n"
                             "    try:\n"
                             "        os.kill(1, sig)\n"
                             "        sent += 1\n"
                             "    except OSError as e:\n"
                             "        pass\n"
                             "time.sleep(0.2)\n"
                             "st = open('/proc/1/status').read()\n"
                             "state = [l.split()[1] for l in st.splitlines() "
                             "if l.startswith('State')][0]\n"
                             "print('init_state', state)\n"
                             "print('sent', sent)\n"
                             "print('alive')\n"));
  const auto wall = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, RunStatus::kOk) << describe(*r);
  EXPECT_TRUE(contains(r->stdout_data, "alive")) << describe(*r);
  EXPECT_EQ(reported(r->stdout_data, "init_state"), "S") << describe(*r);
  // A stopped init would have kept the run going to its time limit.
  EXPECT_LT(wall.count(), kDefaultTimeoutMs) << describe(*r);
}

TEST_P(ProcessEscape, KillOfPid1WithBash) {
  auto r =
      execute(bash_request("kill -9 1; echo rc=$?; kill -STOP 1; kill -TERM 1; kill -INT 1; "
                           "sleep 0.1; echo still-here"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, RunStatus::kOk) << describe(*r);
  EXPECT_TRUE(contains(r->stdout_data, "still-here")) << describe(*r);
}

TEST_P(ProcessEscape, HostProcessesCannotBeSignalled) {
  HostSentinel sentinel;
  ASSERT_GT(sentinel.pid(), 0);
  ExecutionRequest req = python_request(
      "import errno, os, signal\n"
      "me = os.getpid()\n"
      "own = sorted(int(p) for p in os.listdir('/proc') if p.isdigit() and int(p) != me)\n"
      "targets = list(range(1, 401)) + [int(os.environ['SENTINEL']), int(os.environ['RUNNER'])]\n"
      "seen = {}\n"
      "for pid in targets:\n"
      "    if pid == me:\n"
      "        continue\n"
      "    try:\n"
      "        os.kill(pid, 0)\n"
      "        seen[pid] = 'exists'\n"
      "        os.kill(pid, signal.SIGKILL)\n"
      "    except OSError as e:\n"
      "        seen[pid] = errno.errorcode[e.errno]\n"
      "visible = sorted(p for p, v in seen.items() if v != 'ESRCH')\n"
      "print('visible', visible)\n"
      "print('outside_own_pid_namespace', [p for p in visible if p not in own])\n"
      "for name in ('SENTINEL', 'RUNNER'):\n"
      "    pid = int(os.environ[name])\n"
      "    try:\n"
      "        fd = os.pidfd_open(pid)\n"
      "        print('pidfd', name, 'opened')\n"
      "    except OSError as e:\n"
      "        print('pidfd', name, errno.errorcode[e.errno])\n"
      "print('done')\n");
  req.env["SENTINEL"] = std::to_string(sentinel.pid());
  req.env["RUNNER"] = std::to_string(::getpid());
  auto r = execute(req);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, RunStatus::kOk) << describe(*r);
  EXPECT_TRUE(contains(r->stdout_data, "done")) << describe(*r);
  // Whatever the program can name or signal is a process of its own pid namespace (listed in
  // its /proc before it started signalling).
  EXPECT_EQ(reported(r->stdout_data, "outside_own_pid_namespace"), "[]") << describe(*r);
  if (backend() == BackendKind::kNative) {
    // Only the sandbox's init is there (the program skips itself).
    EXPECT_EQ(reported(r->stdout_data, "visible"), "[1]") << describe(*r);
  }
  // On docker the container's own docker-init, a pooled container's idle process (both as
  // nobody: EPERM) and the bootstrap's watcher (killed) are there too: processes of the
  // sandbox, not of the host.
  EXPECT_TRUE(sentinel.alive()) << "the sandbox killed a host process";
  if (sentinel.pid() > 400 && ::getpid() > 400) {
    EXPECT_EQ(reported(r->stdout_data, "pidfd SENTINEL"), "ESRCH") << describe(*r);
    EXPECT_EQ(reported(r->stdout_data, "pidfd RUNNER"), "ESRCH") << describe(*r);
  }
}

void set_disposition(int sig, void (*handler)(int)) {
  struct sigaction sa {};
  sa.sa_handler = handler;
  sigemptyset(&sa.sa_mask);
  ::sigaction(sig, &sa, nullptr);
}

void runner_usr1_handler(int) { ::_exit(97); }

// Both cases change process-wide signal state, so they run in a forked copy of this process
// acting as the runner (run_in_forked_runner), bounded in time.

TEST_P(ProcessEscape, RunnerSignalHandlersCannotBeTriggeredInInit) {
  // A program embedding the library may handle signals (log rotation, reload, shutdown). The
  // sandbox's init is a copy of that process: a signal the program sends to pid 1 must not run
  // the runner's handler there (here one that ends the process, which would end init and lose
  // the program's status; init also runs without the seccomp filter).
  auto run = run_in_forked_runner([] { set_disposition(SIGUSR1, runner_usr1_handler); },
                                  python_request("import errno, os, signal, sys, time\n"
                                                 "try:\n"
                                                 "    os.kill(1, signal.SIGUSR1)\n"
                                                 "    print('sent', file=sys.stderr)\n"
                                                 "except OSError as e:\n"
                                                 "    print(errno.errorcode[e.errno], "
                                                 "file=sys.stderr)\n"
                                                 "time.sleep(0.2)\n"
                                                 "print('alive')\n"),
                                  std::chrono::milliseconds(kDefaultTimeoutMs + 10000));
  EXPECT_FALSE(run.hung) << run.error;
  ASSERT_TRUE(run.error.empty()) << "the program's signal to init ran the runner's handler: "
                                 << run.error;
  EXPECT_EQ(run.result["status"], "ok") << run.result;
  EXPECT_EQ(run.result["stdout"], "alive") << run.result;
  // The native init is a copy of the runner and accepts the signal (and ignores it). Docker's
  // pid 1 is docker-init, never a copy of the runner; in a pooled container (what a library
  // engine uses) it runs as nobody, so the signal is refused outright.
  EXPECT_EQ(run.result["stderr"], backend() == BackendKind::kDocker ? "EPERM" : "sent")
      << run.result;
}

TEST_P(ProcessEscape, ExitStatusSurvivesARunnerThatIgnoresSigchld) {
  // Servers often set SIGCHLD to SIG_IGN. The runner must still get its sandbox's status (the
  // kernel would otherwise reap init behind its back), and the sandbox's init, which inherits
  // the disposition, must still see the program's status and not wait for every background
  // process.
  ExecutionRequest req = bash_request("sleep 100 & exit 3");
  req.timeout_ms = 2000;
  auto run = run_in_forked_runner([] { set_disposition(SIGCHLD, SIG_IGN); }, req,
                                  std::chrono::milliseconds(2000 + 8000));
  EXPECT_FALSE(run.hung) << run.error;
  ASSERT_TRUE(run.error.empty()) << run.error;
  EXPECT_EQ(run.result["exitCode"], 3) << run.result;
  EXPECT_EQ(run.result["status"], "error") << run.result;
}

ISOL8_BACKEND_SUITE(ProcessEscape);

}  // namespace
}  // namespace isol8::test::security
