// The native warm pool (poolSize) through the library: a pooled sandbox is used by one run and
// never again, so nothing a run leaves (files, processes) is visible to the next; and nothing is
// left once the engine goes.
//
// Whether a run got a pooled sandbox shows inside it: a pooled sandbox's init (pid 1) started
// when the pool prepared it, well before the program, while a fresh sandbox's init starts with
// the run.

#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "isol8/engine.h"
#include "support/test_support.h"

namespace isol8::test {
namespace {

using namespace std::chrono_literals;

// Prints how many clock ticks init started before the program, then the probes' findings.
constexpr const char* kProbe =
    "init=$(cut -d' ' -f22 /proc/1/stat); self=$(cut -d' ' -f22 /proc/self/stat); "
    "echo \"age $((self - init))\"; "
    "test -e /sandbox/left-by-earlier-run && echo 'file seen'; "
    "for p in /proc/[0-9]*; do "
    "[ \"$(tr '\\0' '\\n' < $p/cmdline 2>/dev/null | head -n1)\" = isol8-pool-sleeper ] && "
    "echo 'process seen'; done; "
    "touch /sandbox/left-by-earlier-run; "
    "(exec -a isol8-pool-sleeper sleep 30 &); true";

int init_age_ticks(const std::string& out) {
  const auto at = out.find("age ");
  return at == std::string::npos ? -1 : std::stoi(out.substr(at + 4));
}

class WarmPool : public LeakCheckedTest {
 protected:
  Options pooled() const {
    Options o = options();
    o.pool_size = PoolSize{2, 2};
    return o;
  }
};

TEST_F(WarmPool, APooledSandboxServesOneRunAndShowsNothingOfTheRunBefore) {
  auto engine = Engine::create(pooled());
  ASSERT_TRUE(engine) << engine.error().message;
  const long ticks = ::sysconf(_SC_CLK_TCK);
  int pooled_runs = 0;
  for (int i = 0; i < 12; ++i) {
    // Time for the pool to prepare (it does so between runs); the assertions hold either way.
    std::this_thread::sleep_for(300ms);
    auto r = (*engine)->execute(bash_request(kProbe));
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(r->exit_code, 0) << r->stderr_data;
    EXPECT_EQ(r->stdout_data.find("file seen"), std::string::npos)
        << "run " << i << " saw a file an earlier run left: " << r->stdout_data;
    EXPECT_EQ(r->stdout_data.find("process seen"), std::string::npos)
        << "run " << i << " saw a process an earlier run left: " << r->stdout_data;
    const int age = init_age_ticks(r->stdout_data);
    ASSERT_GE(age, 0) << r->stdout_data;
    if (age >= ticks / 5) ++pooled_runs;  // init older than the program by 200 ms or more
  }
  // The first run of the shape cannot be pooled; with 300 ms between runs the rest should be.
  EXPECT_GE(pooled_runs, 6) << "the pool served too few runs to have been tested";
  engine->reset();

  // The probe does see what a run leaves when the sandbox is the same (a persistent session).
  Options persistent = options();
  persistent.mode = EngineMode::kPersistent;
  auto session = Engine::create(persistent);
  ASSERT_TRUE(session) << session.error().message;
  ASSERT_TRUE((*session)->execute(bash_request(kProbe)));
  auto again = (*session)->execute(bash_request(kProbe));
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_TRUE(contains(again->stdout_data, "file seen")) << again->stdout_data;
  EXPECT_TRUE(contains(again->stdout_data, "process seen")) << again->stdout_data;
  (*session)->stop();
}

TEST_F(WarmPool, TimeoutsAndExitCodesAreAsWithoutAPool) {
  auto engine = Engine::create(pooled());
  ASSERT_TRUE(engine) << engine.error().message;
  ASSERT_TRUE((*engine)->execute(bash_request("true")));  // the first run: the pool fills
  std::this_thread::sleep_for(300ms);
  ExecutionRequest slow = bash_request("echo before; sleep 20");
  slow.timeout_ms = 500;
  auto timed_out = (*engine)->execute(slow);
  ASSERT_TRUE(timed_out) << timed_out.error().message;
  EXPECT_EQ(timed_out->exit_code, 137);
  EXPECT_TRUE(contains(timed_out->stderr_data, "EXECUTION TIMED OUT")) << timed_out->stderr_data;
  EXPECT_TRUE(contains(timed_out->stdout_data, "before")) << timed_out->stdout_data;
  std::this_thread::sleep_for(300ms);
  ExecutionRequest exits = bash_request("read line; echo \"got $line\"; exit 7");
  exits.stdin_data = "input\n";
  auto seven = (*engine)->execute(exits);
  ASSERT_TRUE(seven) << seven.error().message;
  EXPECT_EQ(seven->exit_code, 7);
  EXPECT_EQ(seven->stdout_data, "got input");
  engine->reset();
}

}  // namespace
}  // namespace isol8::test
