// The library is called from multithreaded programs (a server, a worker pool). Other threads of
// the caller, starting, exiting or allocating while a run is being set up, must not disturb it.
// Each run gets a time limit (3 s) far above what `echo` needs (milliseconds), so that a sandbox
// stuck in setup ends as a timeout, and a failure here, instead of hanging the suite.

#include <atomic>
#include <thread>

#include "support/test_support.h"

namespace isol8::test {
namespace {

class NativeThreadedCaller : public LeakCheckedTest {
 protected:
  // Runs `runs` short sandboxes while `background` keeps running in other threads; returns how
  // many did not end normally, with their descriptions in `failures`.
  template <class Background>
  int count_bad_runs(int runs, int threads, Background background, std::string& failures) {
    std::atomic<bool> stop{false};
    std::atomic<int> started{0};
    std::vector<std::thread> pool;
    for (int i = 0; i < threads; ++i) {
      pool.emplace_back([&] {
        ++started;
        background(stop);
      });
    }
    while (started < threads) std::this_thread::yield();
    auto engine = Engine::create(options());
    int bad = 0;
    if (!engine) {
      failures = engine.error().message;
      bad = runs;
    } else {
      for (int i = 0; i < runs; ++i) {
        ExecutionRequest req = bash_request("echo run-" + std::to_string(i));
        req.timeout_ms = 3000;
        auto r = (*engine)->execute(req);
        const std::string want = "run-" + std::to_string(i);
        if (!r || r->status != RunStatus::kOk || r->stdout_data != want) {
          ++bad;
          failures += "run " + std::to_string(i) + ": " +
                      (r ? std::string("status ") + to_string(r->status) + " exit " +
                               std::to_string(r->exit_code) + " stdout '" + r->stdout_data + "'"
                         : r.error().message) +
                      "\n";
          if (bad == 3) break;  // each stuck run costs its time limit; three make the point
        }
      }
    }
    stop = true;
    for (auto& t : pool) t.join();
    return bad;
  }
};

TEST_F(NativeThreadedCaller, IdleThreadsInTheCallerAreHarmless) {
  std::string failures;
  const int bad = count_bad_runs(
      20, 2,
      [](std::atomic<bool>& stop) {
        while (!stop) std::this_thread::sleep_for(std::chrono::milliseconds(5));
      },
      failures);
  EXPECT_EQ(bad, 0) << failures;
}

TEST_F(NativeThreadedCaller, ThreadsStartingAndExitingMeanwhile) {
  // A thread pool that grows and shrinks: pthread_create/exit race with the sandbox's clone.
  std::string failures;
  const int bad = count_bad_runs(
      40, 2,
      [](std::atomic<bool>& stop) {
        while (!stop) std::thread([] {}).join();
      },
      failures);
  EXPECT_EQ(bad, 0) << failures;
}

TEST_F(NativeThreadedCaller, ThreadsAllocatingMeanwhile) {
  // Another thread inside malloc at the moment of the clone.
  std::string failures;
  const int bad = count_bad_runs(
      40, 2,
      [](std::atomic<bool>& stop) {
        std::vector<std::unique_ptr<char[]>> keep(64);
        size_t i = 0;
        while (!stop) {
          keep[i % keep.size()].reset(new char[1 + (i * 7919) % 100000]);
          ++i;
        }
      },
      failures);
  EXPECT_EQ(bad, 0) << failures;
}

}  // namespace
}  // namespace isol8::test
