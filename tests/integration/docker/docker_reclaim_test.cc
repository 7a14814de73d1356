// A runner SIGKILLed mid-run cannot remove its container (whose program then runs on with no time
// limit) nor, filtered, its proxy directory: the next `isol8 run --backend docker` removes both
// (backends/docker/reclaim.h), and nothing of a live runner or of another machine.

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <thread>

#include "backends/docker/container_spec.h"
#include "backends/docker/image_import.h"
#include "common/pid_dirs.h"
#include "common/process_owner.h"
#include "support/test_support.h"

namespace isol8::test {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

constexpr const char* kSleeper = "import time; time.sleep(1000)";

bool wait_until(const std::function<bool()>& done, std::chrono::milliseconds limit) {
  const auto until = Clock::now() + limit;
  while (!done()) {
    if (Clock::now() > until) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return true;
}

std::shared_ptr<docker::DockerClient> client() { return *docker::DockerClient::from_environment(); }

// The isol8 containers whose owner label names `pid`: id -> state.
std::map<std::string, std::string> containers_of(pid_t pid) {
  std::map<std::string, std::string> out;
  auto listed =
      client()->list_containers(json{{"label", json::array({"isol8.managed=true"})}}, true);
  EXPECT_TRUE(listed) << listed.error().message;
  if (!listed) return out;
  for (const auto& c : *listed) {
    const auto owner = parse_owner(c["Labels"].value(docker::kOwnerLabel, ""));
    if (owner && owner->pid == pid) out[c.value("Id", "")] = c.value("State", "");
  }
  return out;
}

std::vector<fs::path> proxy_dirs_of(pid_t pid) {
  std::vector<fs::path> out;
  for (const auto& e : fs::directory_iterator(temp_dir())) {
    if (pid_of_dir_name(e.path().filename().string(), "isol8-proxy-") == pid) {
      out.push_back(e.path());
    }
  }
  return out;
}

// `isol8 run --backend docker <args>` in the background (support/cli.h: CliProcess).
// Whatever the test did, when this goes the runner is gone and so are its containers and proxy
// directories.
class Runner {
 public:
  explicit Runner(const std::vector<std::string>& args) : cli_(argv(args), options()) {}
  ~Runner() {
    if (!cli_.started()) return;
    if (!ended_) end(SIGKILL);
    for (const auto& [id, state] : containers_of(pid())) {
      (void)client()->remove_container(id, true);
    }
    for (const auto& dir : proxy_dirs_of(pid())) fs::remove_all(dir);
  }
  Runner(const Runner&) = delete;
  Runner& operator=(const Runner&) = delete;

  bool started() const { return cli_.started(); }
  pid_t pid() const { return cli_.pid(); }
  // Sends `sig` and reaps the CLI.
  CliRun end(int sig) {
    ended_ = true;
    cli_.signal(sig);
    return cli_.wait();
  }

 private:
  static std::vector<std::string> argv(const std::vector<std::string>& args) {
    std::vector<std::string> out = {"run", "--backend", "docker"};
    out.insert(out.end(), args.begin(), args.end());
    return out;
  }
  static CliOptions options() {
    CliOptions o;
    o.env["ISOL8_RELAY"] = kRelayBinary;
    return o;
  }

  CliProcess cli_;
  bool ended_ = false;
};

class DockerReclaim : public ::testing::Test {
 protected:
  void SetUp() override { ISOL8_REQUIRE_DOCKER(); }

  // Starts a runner of kSleeper with `net`, waits until its container runs, SIGKILLs it, and
  // checks that its leftovers stay until the next run, which removes them.
  void kill_runner_then_run_again(const std::string& net, bool persistent = false) {
    std::vector<std::string> args = {"--net", net, "--timeout", "600000", "-e", kSleeper};
    if (persistent) args.insert(args.begin(), "--persistent");
    Runner runner(args);
    ASSERT_TRUE(runner.started());
    ASSERT_TRUE(wait_until(
        [&] {
          const auto c = containers_of(runner.pid());
          return !c.empty() && c.begin()->second == "running";
        },
        std::chrono::seconds(60)))
        << "the runner's container never ran";
    if (net == "filtered") {
      ASSERT_EQ(proxy_dirs_of(runner.pid()).size(), 1u);
    }

    ASSERT_EQ(runner.end(SIGKILL).term_signal, SIGKILL);
    // Nothing removes them by itself: the program still runs.
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    const auto left = containers_of(runner.pid());
    ASSERT_EQ(left.size(), 1u);
    EXPECT_EQ(left.begin()->second, "running");
    if (net == "filtered") {
      EXPECT_EQ(proxy_dirs_of(runner.pid()).size(), 1u);
    }

    const auto r = run_cli({"run", "--backend", "docker", "-e", "print(1)"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.out, "1\n") << r.err;
    // The reclaim runs next to the run, and the backend joins it before the CLI exits.
    EXPECT_TRUE(
        wait_until([&] { return containers_of(runner.pid()).empty(); }, std::chrono::seconds(5)))
        << "the killed runner's container is still there";
    EXPECT_TRUE(proxy_dirs_of(runner.pid()).empty()) << "the killed runner's proxy directory stays";
  }
};

TEST_F(DockerReclaim, KilledRunnersContainerGoesWithTheNextRun) {
  kill_runner_then_run_again("none");
}

TEST_F(DockerReclaim, KilledFilteredRunnersContainerAndProxyDirGoWithTheNextRun) {
  kill_runner_then_run_again("filtered");
}

// A persistent session's container (and its proxy) of a killed runner: the same.
TEST_F(DockerReclaim, KilledRunnersSessionGoesWithTheNextRun) {
  kill_runner_then_run_again("none", /*persistent=*/true);
}

TEST_F(DockerReclaim, KilledFilteredRunnersSessionAndProxyDirGoWithTheNextRun) {
  kill_runner_then_run_again("filtered", /*persistent=*/true);
}

TEST_F(DockerReclaim, BackstopEndsTheProgramOfAKilledRunnerWithoutAnotherRun) {
  auto image = client()->inspect_image("isol8:python");
  ASSERT_TRUE(image && image->has_value());
  ASSERT_TRUE((**image)["Config"]["Labels"].contains(docker::kBackstopLabel))
      << "isol8:python was imported by an older isol8: run isol8 setup --backend docker again";
  // Time limit 3 s: the backstop kills the program 13 s after it started (invocation.h).
  Runner runner({"--timeout", "3000", "-e", kSleeper});
  ASSERT_TRUE(runner.started());
  ASSERT_TRUE(wait_until(
      [&] {
        const auto c = containers_of(runner.pid());
        return !c.empty() && c.begin()->second == "running";
      },
      std::chrono::seconds(60)));
  const auto killed_at = Clock::now();
  ASSERT_EQ(runner.end(SIGKILL).term_signal, SIGKILL);
  const std::string id = containers_of(runner.pid()).begin()->first;
  ASSERT_TRUE(wait_until([&] { return containers_of(runner.pid())[id] == "exited"; },
                         std::chrono::seconds(30)))
      << "the program of a killed runner ran on past its backstop";
  EXPECT_GT(Clock::now() - killed_at, std::chrono::seconds(7)) << "ended long before its backstop";
  auto inspected = client()->inspect_container(id);
  ASSERT_TRUE(inspected) << inspected.error().message;
  EXPECT_EQ((*inspected)["State"].value("ExitCode", -1), 137);
}

TEST_F(DockerReclaim, LiveRunnersAndOtherMachinesContainersAreKept) {
  Runner live({"--timeout", "600000", "-e", kSleeper});
  ASSERT_TRUE(live.started());
  ASSERT_TRUE(
      wait_until([&] { return !containers_of(live.pid()).empty(); }, std::chrono::seconds(60)));
  // A container of a dead pid on another machine (a daemon shared over tcp://): not ours.
  auto self = current_owner();
  ASSERT_TRUE(self) << self.error().message;
  ProcessOwner foreign = *self;
  foreign.boot_id = "00000000-0000-4000-8000-000000000000";
  foreign.pid = live.pid() + 100000;  // beyond pid_max's default: no such process here
  auto id = client()->create_container(
      json{{"Image", "isol8:bash"},
           {"Cmd", {"true"}},
           {"Labels", {{"isol8.managed", "true"}, {docker::kOwnerLabel, format_owner(foreign)}}},
           {"HostConfig", {{"NetworkMode", "none"}}}});
  ASSERT_TRUE(id) << id.error().message;
  struct Remove {
    std::string id;
    ~Remove() { (void)client()->remove_container(id, true); }
  } remove{*id};

  const auto r = run_cli({"run", "--backend", "docker", "-e", "print(2)"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "2\n") << r.err;
  EXPECT_EQ(containers_of(live.pid()).size(), 1u) << "a live runner's container was removed";
  auto inspected = client()->inspect_container(*id);
  EXPECT_TRUE(inspected) << "another machine's container was removed";
  // The live runner still ends its own run: SIGTERM kills the sandbox and removes it.
  const CliRun ended = live.end(SIGTERM);
  EXPECT_TRUE(ended.term_signal == 0 && ended.exit_code == 143) << describe(ended);
  EXPECT_TRUE(containers_of(live.pid()).empty());
}

TEST_F(DockerReclaim, CleanupRemovesDeadRunnersProxyDirectories) {
  const pid_t dead = [] {
    const pid_t child = ::fork();
    if (child == 0) ::_exit(0);
    ::waitpid(child, nullptr, 0);
    return child;
  }();
  const fs::path dir = temp_dir() / ("isol8-proxy-" + std::to_string(dead) + "-test00");
  fs::create_directory(dir);
  // Without --force and a terminal cleanup removes no container (it asks first, and refuses
  // here), but the directories go before it asks.
  const auto r = run_cli({"cleanup"});
  EXPECT_FALSE(fs::exists(dir)) << r.out << r.err;
  EXPECT_NE(r.out.find("proxy director"), std::string::npos) << r.out;
  fs::remove_all(dir);
}

}  // namespace
}  // namespace isol8::test
