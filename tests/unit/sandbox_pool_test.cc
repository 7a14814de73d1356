// The native warm pool's bookkeeping (backends/native/sandbox_pool.h) with fake sandboxes:
// shapes, single use, background preparation and destruction, eviction, failures, shutdown.

#include "backends/native/sandbox_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

namespace isol8 {
namespace {

using namespace std::chrono_literals;

struct Counters {
  std::atomic<int> opened{0};
  std::atomic<int> destroyed{0};
  std::atomic<bool> fail{false};
};

class FakeSession final : public Session {
 public:
  FakeSession(Counters& counters, std::string shape) : counters_(counters), shape_(shape) {
    id_ = "fake-" + std::to_string(++counters.opened);
  }
  ~FakeSession() override { ++counters_.destroyed; }
  const std::string& id() const override { return id_; }
  const std::string& shape() const { return shape_; }
  Result<RunOutcome> run(const RunSpec&, OutputSink&, const RunControl&) override {
    return RunOutcome{};
  }
  Result<void> put_file(const std::string&, std::string_view, uint32_t) override { return ok(); }
  Result<std::string> get_file(const std::string&, uint64_t) override { return std::string(); }

 private:
  Counters& counters_;
  std::string shape_;
  std::string id_;
};

SandboxPool::Opener opener(Counters& counters) {
  return [&counters](const RunSpec& spec) -> Result<std::unique_ptr<Session>> {
    if (counters.fail) return make_error("cannot prepare");
    return std::unique_ptr<Session>(new FakeSession(counters, spec.root_dir));
  };
}

RunSpec shape(const std::string& root, uint64_t memory = 512ull << 20) {
  RunSpec spec;
  spec.argv = {"/bin/true"};
  spec.root_dir = root;
  spec.limits.memory_bytes = memory;
  return spec;
}

// Polls `done` for up to 5 s.
template <typename F>
bool eventually(F done) {
  for (int i = 0; i < 500; ++i) {
    if (done()) return true;
    std::this_thread::sleep_for(10ms);
  }
  return done();
}

TEST(SandboxPool, TheFirstRunOfAShapeFindsNoneThenThePoolKeepsItFilled) {
  Counters counters;
  SandboxPool pool(2, opener(counters));
  EXPECT_EQ(pool.take(shape("/a")), nullptr);
  ASSERT_TRUE(eventually([&] { return pool.ready() == 2; }));
  auto first = pool.take(shape("/a"));
  ASSERT_NE(first, nullptr);
  EXPECT_EQ(static_cast<FakeSession&>(*first).shape(), "/a");
  EXPECT_EQ(pool.ready(), 1u);
  // Used once: retired, destroyed in the background, and replaced.
  pool.retire(std::move(first));
  EXPECT_TRUE(eventually([&] { return counters.destroyed == 1 && pool.ready() == 2; }));
  EXPECT_EQ(counters.opened, 3);
}

TEST(SandboxPool, ShapesAreKeptApart) {
  Counters counters;
  SandboxPool pool(1, opener(counters));
  pool.take(shape("/a"));
  pool.take(shape("/a", 64ull << 20));  // same root, other limits: another shape
  ASSERT_TRUE(eventually([&] { return pool.ready() == 2; }));
  auto small = pool.take(shape("/b"));
  EXPECT_EQ(small, nullptr) << "a sandbox of another shape was handed out";
  EXPECT_NE(sandbox_shape_key(shape("/a")), sandbox_shape_key(shape("/a", 64ull << 20)));
  RunSpec filtered = shape("/a");
  filtered.network = NetworkMode::kFiltered;
  filtered.network_filter.whitelist = {"^x$"};
  RunSpec other = filtered;
  other.network_filter.whitelist = {"^y$"};
  EXPECT_NE(sandbox_shape_key(filtered), sandbox_shape_key(other));
  EXPECT_NE(sandbox_shape_key(filtered), sandbox_shape_key(shape("/a")));
  // The execution's own fields are not part of the shape.
  RunSpec with_code = shape("/a");
  with_code.stdin_data = "input";
  with_code.setup_script = "echo hi";
  EXPECT_EQ(sandbox_shape_key(with_code), sandbox_shape_key(shape("/a")));
}

TEST(SandboxPool, TheLeastRecentlyUsedShapeGoesBeyondTheLimit) {
  Counters counters;
  SandboxPool pool(1, opener(counters));
  for (size_t i = 0; i < SandboxPool::kMaxShapes; ++i) pool.take(shape("/" + std::to_string(i)));
  ASSERT_TRUE(eventually([&] { return pool.ready() == SandboxPool::kMaxShapes; }));
  pool.take(shape("/new"));
  // Shape /0 was evicted: its sandbox destroyed, and /new filled in its place.
  EXPECT_TRUE(eventually(
      [&] { return counters.destroyed == 1 && pool.ready() == SandboxPool::kMaxShapes; }));
  EXPECT_EQ(pool.take(shape("/0")), nullptr);
}

TEST(SandboxPool, AFailingPreparationIsNotRetriedUntilTheNextRun) {
  Counters counters;
  counters.fail = true;
  SandboxPool pool(2, opener(counters));
  EXPECT_EQ(pool.take(shape("/a")), nullptr);
  std::this_thread::sleep_for(100ms);  // a worker that retried in a loop would spin meanwhile
  EXPECT_EQ(pool.ready(), 0u);
  counters.fail = false;
  EXPECT_EQ(pool.take(shape("/a")), nullptr);  // the retry starts now
  EXPECT_TRUE(eventually([&] { return pool.ready() == 2; }));
}

TEST(SandboxPool, DestroyingThePoolDestroysEverySandboxItHolds) {
  Counters counters;
  {
    SandboxPool pool(2, opener(counters));
    pool.take(shape("/a"));
    pool.take(shape("/b"));
    ASSERT_TRUE(eventually([&] { return pool.ready() == 4; }));
    auto used = pool.take(shape("/a"));
    pool.retire(std::move(used));
  }
  EXPECT_EQ(counters.destroyed, counters.opened);
}

}  // namespace
}  // namespace isol8
