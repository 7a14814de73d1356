// `isol8 run --persist` on the native backend: the sandbox outlives the CLI (its init is told to
// stay), a later run's reclaim leaves it alone, `isol8 cleanup` removes it, and it ends by itself
// after its lifetime (ISOL8_PERSIST_LIFETIME). The filtered network, whose proxy lives in the
// runner, is refused.

#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <optional>
#include <regex>
#include <thread>

#include "support/test_support.h"

namespace isol8::test {
namespace {

using std::chrono::seconds;

constexpr std::string_view kKeptMarker = "[INFO] Sandbox kept for inspection: native sandbox ";

class NativePersist : public LeakCheckedTest {
 protected:
  void TearDown() override {
    // A failed test must not leave its kept sandbox running until its lifetime ends.
    if (init_ > 0 && !gone(init_) && host_real_uid(init_) == sandbox_host_uid()) {
      ::kill(init_, SIGKILL);
      wait_until_gone(init_);
    }
    LeakCheckedTest::TearDown();
  }

  // The CLI of this test, with a lifetime for kept sandboxes and no Docker daemon (so that
  // `cleanup --force` never touches containers of other runs on this machine).
  CliOptions options(int lifetime_seconds) const {
    CliOptions o = cli().options();
    o.env["ISOL8_PERSIST_LIFETIME"] = std::to_string(lifetime_seconds);
    o.env["DOCKER_HOST"] = "unix:///nonexistent/isol8-test-docker.sock";
    return o;
  }

  // Runs `command` with --persist and returns the kept init's host pid from the message.
  std::optional<pid_t> run_persisted(const std::string& command, int lifetime_seconds) {
    const CliRun r =
        run_cli_with({"run", "--persist", "--cmd", command}, options(lifetime_seconds));
    EXPECT_EQ(r.exit_code, 0) << describe(r);
    EXPECT_TRUE(contains(r.err, kKeptMarker)) << r.err;
    std::smatch m;
    if (!std::regex_search(r.err, m, std::regex("init pid ([0-9]+)\\."))) return std::nullopt;
    init_ = static_cast<pid_t>(std::stol(m[1]));
    const std::string pid = m[1];
    EXPECT_TRUE(contains(r.err, "nsenter --target " + pid + " --all --setuid 100 --setgid 101"))
        << r.err;
    EXPECT_TRUE(contains(r.err, has_cgroups() ? "Remove it: isol8 cleanup, or kill " + pid
                                              : "Remove it: kill " + pid +
                                                    " (no cgroup: isol8 cleanup cannot find it)"))
        << r.err;
    EXPECT_TRUE(contains(r.err, "It ends by itself in " + std::to_string(lifetime_seconds) + " s"))
        << r.err;
    return init_;
  }

  // A zombie counts as gone: whatever adopted the kept init reaps it in its own time.
  static bool gone(pid_t pid) {
    if (::kill(pid, 0) != 0) return errno == ESRCH;
    return status_field(pid, "State").rfind("Z", 0) == 0;
  }

  // Waits (boundedly) until `pid` and every process with this test's sandbox uid are gone.
  bool wait_until_gone(pid_t pid, seconds limit = seconds(20)) const {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    for (;;) {
      const bool done = (pid <= 0 || gone(pid)) &&
                        (!privileged_id_map() || pids_with_host_uid(sandbox_host_uid()).empty());
      if (done) return true;
      if (std::chrono::steady_clock::now() > deadline) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }

  // Whether this caller's sandboxes get a cgroup (root, or a delegated v2 subtree): only then can
  // `isol8 cleanup` find a kept sandbox; without one the run says to use kill.
  bool has_cgroups() const {
    auto r = execute_once(LeakCheckedTest::options(), bash_request("true"));
    return r && r->limits.not_enforced.empty();
  }

  pid_t init_ = -1;
};

TEST_F(NativePersist, KeptSandboxOutlivesTheCliUntilCleanup) {
  const auto init = run_persisted("echo hi > /sandbox/kept; sleep 1000 &", 600);
  ASSERT_TRUE(init.has_value());
  EXPECT_FALSE(gone(*init)) << "the kept sandbox's init ended with the CLI";
  const bool cgroups = has_cgroups();
  // Named after its init, which is what lets cleanup find it and keeps reclaim away from it.
  if (cgroups) {
    EXPECT_FALSE(isol8_cgroups_of({*init}).empty())
        << "the kept sandbox's cgroup is not its init's";
  }
  if (privileged_id_map()) {
    EXPECT_EQ(sh_out("nsenter --target " + std::to_string(*init) +
                     " --all --setuid 100 --setgid 101 cat /sandbox/kept"),
              "hi\n");
    EXPECT_FALSE(pids_with_host_uid(sandbox_host_uid()).empty());
  }

  // A later run reclaims dead runners' cgroups first; the kept sandbox has a live owner.
  const CliRun later = run_cli_with({"run", "--cmd", "echo later"}, options(600));
  EXPECT_EQ(later.exit_code, 0) << describe(later);
  EXPECT_FALSE(gone(*init)) << "a later run's reclaim killed the kept sandbox";

  if (!cgroups) {
    // Nothing for cleanup to find: the owner ends it as the message says.
    ASSERT_EQ(::kill(*init, SIGTERM), 0) << std::strerror(errno);
    EXPECT_TRUE(wait_until_gone(*init)) << "kill left the kept sandbox running";
    return;
  }
  const CliRun cleaned = run_cli_with({"cleanup", "--force"}, options(600));
  EXPECT_EQ(cleaned.exit_code, 0) << describe(cleaned);
  EXPECT_TRUE(contains(cleaned.out, "kept native sandbox")) << cleaned.out;
  EXPECT_TRUE(contains(cleaned.out, "init pid " + std::to_string(*init))) << cleaned.out;
  EXPECT_TRUE(wait_until_gone(*init)) << "cleanup left the kept sandbox running";
  EXPECT_TRUE(isol8_cgroups_of({*init}).empty()) << "cleanup left the kept sandbox's cgroup";
}

TEST_F(NativePersist, KeptSandboxEndsByItselfAfterItsLifetime) {
  const auto init = run_persisted("sleep 1000 &", 2);
  ASSERT_TRUE(init.has_value());
  // Bounded by the hang limit only: the lifetime's end is what is awaited, not timed.
  EXPECT_TRUE(wait_until_gone(*init, seconds(60))) << "the kept sandbox outlived its lifetime";
  if (!has_cgroups()) return;
  // Its cgroup has a dead owner now, so the next run's reclaim removes it.
  const CliRun later = run_cli_with({"run", "--cmd", "true"}, options(2));
  EXPECT_EQ(later.exit_code, 0) << describe(later);
  EXPECT_TRUE(isol8_cgroups_of({*init}).empty()) << "the ended sandbox's cgroup was not reclaimed";
}

TEST_F(NativePersist, FilteredNetworkIsRefused) {
  const CliRun r =
      run_cli_with({"run", "--persist", "--net", "filtered", "--cmd", "true"}, options(600));
  EXPECT_NE(r.exit_code, 0) << describe(r);
  EXPECT_TRUE(contains(r.err, "cannot keep a native sandbox with the filtered network")) << r.err;
  EXPECT_TRUE(contains(r.err, "proxy")) << r.err;
}

}  // namespace
}  // namespace isol8::test
