// Crash safety and endurance: a thousand sandboxes in a row, and a runner SIGKILLed mid-run
// followed by one more run, leave no isol8 cgroups, mounts, processes or temp dirs behind.

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <iterator>
#include <set>
#include <sstream>

#include "support/test_support.h"

namespace isol8::test {
namespace {

namespace fs = std::filesystem;

// isol8-<pid>-* cgroup directories under every hierarchy's isol8/ parent, optionally only those
// of one owner pid.
size_t isol8_cgroups(std::optional<pid_t> owner = std::nullopt) {
  size_t n = 0;
  std::error_code ec;
  for (const auto& hierarchy : fs::directory_iterator("/sys/fs/cgroup", ec)) {
    for (const auto& entry : fs::directory_iterator(hierarchy.path() / "isol8", ec)) {
      const std::string name = entry.path().filename().string();
      if (!name.starts_with("isol8-")) continue;
      if (owner && !name.starts_with("isol8-" + std::to_string(*owner) + "-")) continue;
      ++n;
    }
  }
  return n;
}

// The path of `pid`'s cgroup in the v1 `controller` hierarchy, from /proc/<pid>/cgroup ("" when
// that hierarchy is not mounted, as on v2).
std::string cgroup_of(pid_t pid, const std::string& controller) {
  std::istringstream lines(slurp("/proc/" + std::to_string(pid) + "/cgroup"));
  for (std::string line; std::getline(lines, line);) {
    const size_t first = line.find(':');
    const size_t second = line.find(':', first + 1);
    if (first == std::string::npos || second == std::string::npos) continue;
    if (line.substr(first + 1, second - first - 1) == controller) return line.substr(second + 1);
  }
  return "";
}

// Entries in /tmp named like something isol8 could create (it should create none). The test
// tiers' own directories (isol8-native-*, isol8-rootless.*) are not counted; other tests running
// in parallel create and remove those.
std::set<std::string> isol8_temp_entries() {
  std::set<std::string> names;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator("/tmp", ec)) {
    const std::string name = entry.path().filename().string();
    if (name.starts_with("isol8") && !name.starts_with("isol8-native-") &&
        !name.starts_with("isol8-rootless.")) {
      names.insert(name);
    }
  }
  return names;
}

// What `after` has that `before` had not.
std::vector<std::string> added(const std::set<std::string>& before,
                               const std::set<std::string>& after) {
  std::vector<std::string> out;
  std::set_difference(after.begin(), after.end(), before.begin(), before.end(),
                      std::back_inserter(out));
  return out;
}

class NativeEndurance : public LeakCheckedTest {};

TEST_F(NativeEndurance, AThousandSandboxesLeaveNothingBehind) {
  const size_t cgroups_before = isol8_cgroups(::getpid());
  const std::set<std::string> temp_before = isol8_temp_entries();
  auto engine = Engine::create(options());
  ASSERT_TRUE(engine) << engine.error().message;
  int failures = 0;
  std::string first_failure;
  for (int i = 0; i < 1000; ++i) {
    ExecutionRequest req = bash_request("echo $((" + std::to_string(i) + " + 1))");
    auto r = (*engine)->execute(req);
    if (!r || r->exit_code != 0 || r->stdout_data != std::to_string(i + 1)) {
      if (failures++ == 0) {
        first_failure = r ? "run " + std::to_string(i) + " exit " + std::to_string(r->exit_code) +
                                " stdout '" + r->stdout_data + "'"
                          : r.error().message;
      }
    }
  }
  EXPECT_EQ(failures, 0) << first_failure;
  // The engine's warm pool (poolSize, default 1) holds a prepared sandbox while it lives, and
  // most of these runs used one; once the engine is gone nothing may be left.
  engine->reset();
  EXPECT_EQ(isol8_cgroups(::getpid()), cgroups_before) << "cgroups of this runner left behind";
  const auto new_entries = added(temp_before, isol8_temp_entries());
  EXPECT_TRUE(new_entries.empty()) << "new in /tmp: " << new_entries.front();
}

TEST_F(NativeEndurance, ASigkilledRunnerIsCleanedUpByTheNextRun) {
  if (!privileged_id_map()) GTEST_SKIP() << "cgroups are created only as root here";
  // A CLI runner, killed while its sandbox runs. Its cgroup is a reused slot (not named after
  // it), which stays for the next run that takes that slot to make anew (cgroup_slots_live_test
  // covers that); what must not stay is a cgroup named after it, or a sandbox process.
  const std::string token = "92." + std::to_string(::getpid());
  CliProcess proc({"run", "--cmd", "sleep " + token}, cli().options());
  ASSERT_TRUE(proc.started());
  const auto sleeper = wait_for_process({"sleep", token}, std::chrono::seconds(20));
  ASSERT_TRUE(sleeper.has_value()) << "the sandboxed sleep never appeared";
  const pid_t runner = proc.pid();
  // Its cgroup, as the host sees it: a reused slot on v1 (isol8/slot-<n>-<id>).
  const std::string sandbox_cgroup = cgroup_of(*sleeper, "pids");
  ASSERT_EQ(proc.signal(SIGKILL), 0);
  (void)proc.wait();
  // The next run.
  const CliRun next = cli().run({"run", "--cmd", "echo again"});
  EXPECT_EQ(next.exit_code, 0) << describe(next);
  EXPECT_EQ(rtrim(next.out), "again");
  EXPECT_EQ(isol8_cgroups(runner), 0u) << "the killed runner's cgroup is still there";
  // A slot stays for its next holder to make anew, but nothing runs in it any more.
  if (!sandbox_cgroup.empty() && sandbox_cgroup.find("/slot-") != std::string::npos) {
    const fs::path procs = fs::path("/sys/fs/cgroup/pids") / sandbox_cgroup / "cgroup.procs";
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (fs::exists(procs) && !slurp_trimmed(procs.string()).empty() &&
           std::chrono::steady_clock::now() < until) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    EXPECT_TRUE(!fs::exists(procs) || slurp_trimmed(procs.string()).empty())
        << sandbox_cgroup << " still has processes";
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!pids_with_host_uid(sandbox_host_uid()).empty() &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_TRUE(pids_with_host_uid(sandbox_host_uid()).empty()) << "sandbox processes remain";
}

TEST_F(NativeEndurance, OneShotRunsOnV1TakeAReusedCgroupSlot) {
  if (!privileged_id_map()) GTEST_SKIP() << "cgroups are created only as root here";
  if (!fs::exists("/sys/fs/cgroup/pids")) {
    GTEST_SKIP() << "cgroup slots are a v1 feature, and this host has no v1 pids hierarchy";
  }
  // The slot a run took, in its own words (--debug names the cgroup of the clone).
  const CliRun run = cli().run({"run", "--debug", "--cmd", "cat /proc/self/cgroup"});
  EXPECT_EQ(run.exit_code, 0) << describe(run);
  EXPECT_TRUE(contains(run.err, " cgroup=slot-")) << run.err;
  // Its cgroup namespace starts at the slot: the sandbox does not see its name.
  EXPECT_EQ(run.out.find("slot-"), std::string::npos) << run.out;
}

}  // namespace
}  // namespace isol8::test
