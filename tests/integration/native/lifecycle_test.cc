// What only the native backend promises about how runs end: a SIGKILLed runner takes its
// sandbox along (the parent-death signal of its init). A docker container belongs to the
// daemon, not the runner, so this has no docker counterpart.

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

class NativeLifecycle : public LeakCheckedTest {};

TEST_F(NativeLifecycle, SigkillOfTheCliStillTearsTheSandboxDown) {
  // SIGKILL cannot be handled: the sandbox must go down by itself (parent-death signal to its
  // init, then the kernel empties the pid namespace). That happens just after the CLI is gone,
  // so wait for it, boundedly.
  const std::string token = "91." + std::to_string(::getpid());
  CliProcess proc({"run", "--cmd", "sleep " + token}, cli().options());
  ASSERT_TRUE(proc.started());
  const auto pid = wait_for_process({"sleep", token}, std::chrono::seconds(20));
  ASSERT_TRUE(pid.has_value()) << "the sandboxed sleep never appeared";
  ASSERT_EQ(proc.signal(SIGKILL), 0);
  const CliRun r = proc.wait();
  EXPECT_EQ(r.term_signal, SIGKILL) << describe(r);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  bool gone = false;
  while (!gone && std::chrono::steady_clock::now() < deadline) {
    gone = cmdline_of(*pid) != std::vector<std::string>{"sleep", token} &&
           (!privileged_id_map() || pids_with_host_uid(sandbox_host_uid()).empty());
    if (!gone) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_TRUE(gone) << "the sandbox outlived a SIGKILLed CLI by 10 s";
}

}  // namespace
}  // namespace isol8::test
