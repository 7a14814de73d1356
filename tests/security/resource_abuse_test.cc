// Abuse of resources: fork and thread bombs, memory bombs, filling the tmpfs work areas, floods
// of files and output, zombie storms, a program that ignores SIGTERM past its time limit and a
// daemon that tries to outlive the run. Each case checks that the abuse is contained, that the
// runner returns a coherent result, and (in SecurityTest's TearDown) that nothing is left behind.

#include <chrono>
#include <iostream>

#include "security/security_fixture.h"

namespace isol8::test::security {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

class ResourceAbuse : public SecurityTest {};

// ---- processes and threads

TEST_P(ResourceAbuse, ForkBombIsStoppedByThePidsLimit) {
  ISOL8_REQUIRE_CGROUP_LIMITS();
  Options o = opts();
  o.pids_limit = 16;
  auto r = execute(python_request("import errno, os, time\n"
                                  "n, err = 0, None\n"
                                  "for i in range(1000):\n"
                                  "    try:\n"
                                  "        pid = os.fork()\n"
                                  "    except OSError as e:\n"
                                  "        err = errno.errorcode.get(e.errno, e.errno)\n"
                                  "        break\n"
                                  "    if pid == 0:\n"
                                  "        time.sleep(60)\n"
                                  "        os._exit(0)\n"
                                  "    n += 1\n"
                                  "print('forked', n, err)\n"),
                   o);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->exit_code, 0) << describe(*r);
  EXPECT_TRUE(std::find(r->limits.enforced.begin(), r->limits.enforced.end(), "pids") !=
              r->limits.enforced.end())
      << "the pids limit is not enforced";
  const auto forked = reported(r->stdout_data, "forked");
  ASSERT_TRUE(forked) << describe(*r);
  std::istringstream f(*forked);
  int n = 0;
  std::string err;
  f >> n >> err;
  EXPECT_LT(n, 16) << "more processes than the pids limit allows";
  EXPECT_EQ(err, "EAGAIN") << describe(*r);
}

TEST_P(ResourceAbuse, ClassicBashForkBombEndsAndIsCleanedUp) {
  ISOL8_REQUIRE_CGROUP_LIMITS();
  ExecutionRequest req = bash_request("bomb() { bomb | bomb & }; bomb; sleep 2; echo survived");
  req.timeout_ms = 3000;
  const auto start = Clock::now();
  auto r = execute(req);
  const auto wall = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
  ASSERT_TRUE(r);
  // It ends by itself (bash gives up forking, or finishes) or by the time limit; either way the
  // result is coherent (expect_sane) and the run did not outlive its limit by much.
  EXPECT_TRUE(r->status == RunStatus::kOk || r->status == RunStatus::kError ||
              r->status == RunStatus::kTimeout)
      << describe(*r);
  EXPECT_LT(wall.count(), 3000 + 10000) << describe(*r);
}

TEST_P(ResourceAbuse, ThreadBombCountsAgainstThePidsLimit) {
  ISOL8_REQUIRE_CGROUP_LIMITS();
  Options o = opts();
  o.pids_limit = 16;
  auto r = execute(python_request("import os, threading, time\n"
                                  "n, err = 0, None\n"
                                  "for i in range(1000):\n"
                                  "    try:\n"
                                  "        threading.Thread(target=time.sleep, args=(60,),\n"
                                  "                         daemon=True).start()\n"
                                  "    except RuntimeError as e:\n"
                                  "        err = 'refused'\n"
                                  "        break\n"
                                  "    n += 1\n"
                                  "print('threads', n, err, flush=True)\n"
                                  "os._exit(0)\n"),
                   o);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->exit_code, 0) << describe(*r);
  const auto threads = reported(r->stdout_data, "threads");
  ASSERT_TRUE(threads) << describe(*r);
  std::istringstream f(*threads);
  int n = 0;
  std::string err;
  f >> n >> err;
  EXPECT_LT(n, 16) << "more threads than the pids limit allows";
  EXPECT_EQ(err, "refused") << describe(*r);
}

TEST_P(ResourceAbuse, ZombieStormIsReapedByTheSandboxInit) {
  // Every round, a child forks 40 grandchildren that exit at once and then exits without
  // reaping them: 40 zombies per round are orphaned to the sandbox's init. Were they not
  // reaped, they would hold their pids and the pids limit (64) would stop the second round.
  // Finally the program leaves 30 zombies of its own unreaped and exits.
  auto r =
      execute(python_request("import errno, os, time\n"
                             "ok = 0\n"
                             "for rnd in range(5):\n"
                             "    mid = os.fork()\n"
                             "    if mid == 0:\n"
                             "        try:\n"
                             "            for i in range(40):\n"
                             "                if os.fork() == 0:\n"
                             "                    os._exit(0)\n"
                             "        except OSError:\n"
                             "            os._exit(1)\n"
                             "        os._exit(0)\n"
                             "    _, st = os.waitpid(mid, 0)\n"
                             "    if os.WEXITSTATUS(st) == 0: ok += 1\n"
                             "    time.sleep(0.2)\n"
                             "for i in range(30):\n"
                             "    if os.fork() == 0: os._exit(0)\n"
                             "print('rounds', ok, flush=True)\n"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, RunStatus::kOk) << describe(*r);
  EXPECT_EQ(reported(r->stdout_data, "rounds"), "5") << describe(*r);
}

TEST_P(ResourceAbuse, ChildIgnoringSigtermIsKilledAtTheTimeout) {
  ExecutionRequest req = python_request(
      "import os, signal, time\n"
      "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
      "signal.signal(signal.SIGINT, signal.SIG_IGN)\n"
      "signal.signal(signal.SIGHUP, signal.SIG_IGN)\n"
      "if os.fork() == 0:\n"
      "    time.sleep(60)\n"
      "    os._exit(0)\n"
      "print('ready', flush=True)\n"
      "while True:\n"
      "    try:\n"
      "        time.sleep(60)\n"
      "    except BaseException:\n"
      "        pass\n");
  req.timeout_ms = 1000;
  const auto start = Clock::now();
  auto r = execute(req);
  const auto wall = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->exit_code, 137) << describe(*r);
  EXPECT_EQ(r->status, RunStatus::kTimeout) << describe(*r);
  EXPECT_EQ(r->stdout_data, "ready");
  EXPECT_TRUE(rtrim(r->stderr_data).ends_with(kTimedOutMarker)) << describe(*r);
  EXPECT_LT(wall.count(), 1000 + 5000) << "the run ended far after its time limit";
}

TEST_P(ResourceAbuse, DoubleForkedSetsidDaemonDoesNotOutliveTheRun) {
  ExecutionRequest req = python_request(
      "import os, time\n"
      "if os.fork() == 0:\n"
      "    os.setsid()\n"
      "    if os.fork() == 0:\n"
      "        fd = os.open('/dev/null', os.O_RDWR)\n"
      "        for i in (0, 1, 2): os.dup2(fd, i)\n"
      "        while True: time.sleep(1)\n"
      "    os._exit(0)\n"
      "os.wait()\n"
      "print('parent done', flush=True)\n");
  const auto start = Clock::now();
  auto r = execute(req);
  const auto wall = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
  ASSERT_TRUE(r);
  // The run ends with the program: it neither waits for the daemon nor times out.
  EXPECT_EQ(r->status, RunStatus::kOk) << describe(*r);
  EXPECT_EQ(r->stdout_data, "parent done");
  EXPECT_LT(wall.count(), kDefaultTimeoutMs) << "the run waited for the daemon";
  // The daemon is gone right away (TearDown checks the sandbox uid as well).
  if (privileged_id_map()) {
    EXPECT_TRUE(pids_with_host_uid(sandbox_host_uid()).empty());
  }
}

TEST_P(ResourceAbuse, CpuBurnersAreThrottled) {
  ISOL8_REQUIRE_CGROUP_LIMITS();
  // Four busy processes for 1.5 s under a limit of half a CPU: the cgroup's CPU time stays near
  // half the wall time (an upper bound only: a loaded machine gives less).
  Options o = opts();
  o.cpu_limit = 0.5;
  ExecutionRequest req = python_request(
      "import os\n"
      "for i in range(3):\n"
      "    if os.fork() == 0: break\n"
      "while True: pass\n");
  req.timeout_ms = 1500;
  auto r = execute(req, o);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, RunStatus::kTimeout) << describe(*r);
  if (std::find(r->limits.enforced.begin(), r->limits.enforced.end(), "cpu") ==
      r->limits.enforced.end()) {
    ADD_FAILURE() << "the cpu limit is not enforced";
    return;
  }
  const int64_t cpu = r->resource_usage.cpu_user_ms + r->resource_usage.cpu_system_ms;
  std::cout << "[ measured ] 4 busy processes, cpu 0.5, " << r->duration_ms << " ms wall: " << cpu
            << " ms cpu\n";
  EXPECT_LT(cpu, r->duration_ms * 0.5 * 1.5 + 300) << describe(*r);
  // The burners were killed by the timeout, with init: their CPU time must still be counted (a
  // lower bound far below the half CPU they had, for a loaded machine).
  if (r->resource_usage.cpu_and_memory_measured) {
    EXPECT_GT(cpu, r->duration_ms * 0.5 * 0.2) << describe(*r);
  }
}

// ---- memory

TEST_P(ResourceAbuse, MemoryBombIsOomKilled) {
  ISOL8_REQUIRE_CGROUP_LIMITS();
  Options o = opts();
  o.memory_limit_bytes = 64ull << 20;
  auto engine = Engine::create(o);
  ASSERT_TRUE(engine) << engine.error().message;
  auto r = execute_on(**engine, python_request("a = []\n"
                                               "while True:\n"
                                               "    a.append(b'x' * (8 << 20))\n"));
  ASSERT_TRUE(r) << r.error().message;
  expect_sane(*r);
  EXPECT_EQ(r->exit_code, 137) << describe(*r);
  EXPECT_EQ(r->status, RunStatus::kOom) << describe(*r);
  EXPECT_TRUE(r->oom_killed);
  EXPECT_TRUE(contains(r->stderr_data, "--- OUT OF MEMORY (limit 64m) ---")) << describe(*r);
  // The engine goes on: the next run works.
  auto next = execute_on(**engine, bash_request("echo still-fine"));
  ASSERT_TRUE(next) << next.error().message;
  EXPECT_EQ(next->stdout_data, "still-fine") << describe(*next);
  EXPECT_EQ(next->status, RunStatus::kOk);
}

TEST_P(ResourceAbuse, MemoryBombThroughTheCliReportsOom) {
  ISOL8_REQUIRE_CGROUP_LIMITS();
  const CliRun r = cli_run({"--json", "--memory", "64m", "--timeout", "5000", "-e",
                            "a = []\nwhile True:\n    a.append(bytearray(b'y' * (8 << 20)))\n"});
  EXPECT_EQ(r.exit_code, 137) << isol8::test::describe(r);
  const json j = json::parse(r.out, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << r.out;
  EXPECT_EQ(j["status"], "oom") << j;
  EXPECT_EQ(j["exitCode"], 137);
  EXPECT_TRUE(contains(j["stderr"].get<std::string>(), "--- OUT OF MEMORY (limit 64m) ---")) << j;
}

TEST_P(ResourceAbuse, MemoryBombThroughTmpfsIsContained) {
  ISOL8_REQUIRE_CGROUP_LIMITS();
  // tmpfs pages are memory too: a /sandbox larger than the memory limit must not be a way
  // around it. Writing 300 MB under a 64m limit ends in an OOM kill or ENOSPC/EFBIG.
  Options o = opts();
  o.memory_limit_bytes = 64ull << 20;
  o.sandbox_size_bytes = 1ull << 30;
  auto r = execute(bash_request("head -c 300000000 /dev/zero > /sandbox/fill; echo rc=$?"), o);
  ASSERT_TRUE(r);
  const bool oom = r->status == RunStatus::kOom || r->exit_code == 137;
  const bool refused = contains(r->stdout_data, "rc=1") || contains(r->stdout_data, "rc=137");
  EXPECT_TRUE(oom || refused) << describe(*r);
  EXPECT_NE(r->status, RunStatus::kTimeout) << describe(*r);
}

// ---- filesystems

TEST_P(ResourceAbuse, FillingSandboxGivesEnospcAndTheNextRunWorks) {
  Options o = opts();
  o.sandbox_size_bytes = 4ull << 20;
  auto engine = Engine::create(o);
  ASSERT_TRUE(engine) << engine.error().message;
  auto r =
      execute_on(**engine, bash_request("head -c 20000000 /dev/zero > /sandbox/fill; echo rc=$?; "
                                        "ls -s --block-size=1k /sandbox/fill"));
  ASSERT_TRUE(r) << r.error().message;
  expect_sane(*r);
  EXPECT_EQ(r->status, RunStatus::kOk) << describe(*r);
  EXPECT_TRUE(contains(r->stdout_data, "rc=1")) << describe(*r);
  EXPECT_TRUE(contains(r->stderr_data, "No space left on device")) << describe(*r);
  auto next = execute_on(**engine, bash_request("ls -A /sandbox | wc -l; echo ok > /sandbox/f && "
                                                "cat /sandbox/f"));
  ASSERT_TRUE(next) << next.error().message;
  EXPECT_EQ(next->stdout_data, "0\nok") << describe(*next);
}

TEST_P(ResourceAbuse, FillingTmpGivesEnospcAndTheNextRunWorks) {
  Options o = opts();
  o.tmp_size_bytes = 4ull << 20;
  auto engine = Engine::create(o);
  ASSERT_TRUE(engine) << engine.error().message;
  auto r =
      execute_on(**engine, python_request("import errno\n"
                                          "try:\n"
                                          "    with open('/tmp/fill', 'wb') as f:\n"
                                          "        for i in range(100): f.write(b'z' * (1 << 20))\n"
                                          "    print('no error')\n"
                                          "except OSError as e:\n"
                                          "    print(errno.errorcode[e.errno])\n"));
  ASSERT_TRUE(r) << r.error().message;
  expect_sane(*r);
  EXPECT_EQ(r->stdout_data, "ENOSPC") << describe(*r);
  auto next =
      execute_on(**engine, bash_request("ls -A /tmp | wc -l; echo ok > /tmp/f && cat /tmp/f"));
  ASSERT_TRUE(next) << next.error().message;
  EXPECT_EQ(next->stdout_data, "0\nok") << describe(*next);
}

TEST_P(ResourceAbuse, DiskFillThroughTheCliThenANormalRun) {
  const CliRun fill = cli_run({"--sandbox-size", "4m", "--tmp-size", "4m", "--cmd",
                               "head -c 10000000 /dev/zero > /sandbox/a; echo a=$?; "
                               "head -c 10000000 /dev/zero > /tmp/b; echo b=$?"});
  EXPECT_EQ(fill.exit_code, 0) << isol8::test::describe(fill);
  EXPECT_EQ(fill.out, "a=1\nb=1\n") << isol8::test::describe(fill);
  EXPECT_TRUE(contains(fill.err, "No space left on device")) << isol8::test::describe(fill);
  const CliRun next = cli_run({"--sandbox-size", "4m", "--tmp-size", "4m", "-e", "print('ok')"});
  EXPECT_EQ(next.exit_code, 0) << isol8::test::describe(next);
  EXPECT_EQ(next.out, "ok\n");
}

TEST_P(ResourceAbuse, FillingDevShmIsBounded) {
  auto r =
      execute(bash_request("head -c 200000000 /dev/zero > /dev/shm/fill; echo rc=$?; "
                           "du -sm /dev/shm | cut -f1"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, RunStatus::kOk) << describe(*r);
  EXPECT_TRUE(contains(r->stdout_data, "rc=1")) << describe(*r);
  EXPECT_TRUE(contains(r->stderr_data, "No space left on device")) << describe(*r);
}

TEST_P(ResourceAbuse, HundredThousandFilesInSandbox) {
  auto engine = Engine::create(opts());
  ASSERT_TRUE(engine) << engine.error().message;
  auto r =
      execute_on(**engine, python_request("import errno, os\n"
                                          "os.mkdir('/sandbox/d')\n"
                                          "n = 0\n"
                                          "try:\n"
                                          "    for i in range(100000):\n"
                                          "        open('/sandbox/d/%d' % i, 'w').close()\n"
                                          "        n += 1\n"
                                          "    print('created', n)\n"
                                          "except OSError as e:\n"
                                          "    print('stopped', n, errno.errorcode[e.errno])\n"));
  ASSERT_TRUE(r) << r.error().message;
  expect_sane(*r);
  EXPECT_EQ(r->status, RunStatus::kOk) << describe(*r);
  const bool all = r->stdout_data == "created 100000";
  const bool full = r->stdout_data.starts_with("stopped ") &&
                    (contains(r->stdout_data, "ENOSPC") || contains(r->stdout_data, "EDQUOT"));
  EXPECT_TRUE(all || full) << describe(*r);
  auto next = execute_on(**engine, bash_request("ls -A /sandbox | wc -l"));
  ASSERT_TRUE(next) << next.error().message;
  EXPECT_EQ(next->stdout_data, "0") << "files persisted between runs";
}

// ---- output

TEST_P(ResourceAbuse, HundredMegabytesOfOutputAreTruncated) {
  auto r = execute(bash_request("yes | head -c 100000000; echo done >&2"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, RunStatus::kOk) << describe(*r);
  EXPECT_TRUE(r->truncated);
  EXPECT_LE(r->stdout_data.size(), 1048576u + 100);
  EXPECT_TRUE(
      contains(r->stdout_data, "--- OUTPUT TRUNCATED (100000000 bytes, limit: 1048576) ---"))
      << r->stdout_data.substr(r->stdout_data.size() > 200 ? r->stdout_data.size() - 200 : 0);
  EXPECT_EQ(r->stderr_data, "done");
}

TEST_P(ResourceAbuse, HundredMegabytesThroughTheCliKeepItsMemoryBounded) {
  const CliRun r = cli_run({"--json", "--cmd",
                            "yes | head -c 100000000 >&2; yes | head -c "
                            "100000000"});
  EXPECT_EQ(r.exit_code, 0) << isol8::test::describe(r);
  const json j = json::parse(r.out, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << r.out.substr(0, 300);
  EXPECT_EQ(j["truncated"], true);
  EXPECT_LE(j["stdout"].get<std::string>().size(), 1048576u + 100);
  EXPECT_LE(j["stderr"].get<std::string>().size(), 1048576u + 100);
  // 200 MB went through the CLI; it may keep about the caps, never the flood.
  EXPECT_LT(r.max_rss_kb, 64 * 1024) << "peak RSS of the CLI in KiB";
}

ISOL8_BACKEND_SUITE(ResourceAbuse);

}  // namespace
}  // namespace isol8::test::security
