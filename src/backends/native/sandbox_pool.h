#pragma once
// The native backend's warm pool (Options::pool_size, for long-lived library engines): sandboxes
// prepared ahead of the runs that will use them (namespaces, mounts, cgroup, network: a session
// sandbox whose init waits for its one execution), so that a run only hands its program over.
//
// A pooled sandbox is used by one run and never again: after the run it is destroyed (in the
// background), so isolation between runs is the same as without a pool. Sandboxes are prepared
// per shape (the sandbox-level fields of a RunSpec: root, network and its filter, sizes,
// limits): the first run of a shape finds none and runs as usual, and from then on the pool
// keeps `per_shape` sandboxes of that shape ready. At most kMaxShapes shapes are kept (the least
// recently used one goes). One worker thread prepares and destroys sandboxes, so a run never
// waits for either.

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "backends/backend.h"
#include "isol8/result.h"

namespace isol8 {

class SandboxPool {
 public:
  static constexpr size_t kMaxShapes = 8;
  // Opens one sandbox of the spec's shape (NativeSession::open); called on the worker thread.
  using Opener = std::function<Result<std::unique_ptr<Session>>(const RunSpec&)>;

  SandboxPool(size_t per_shape, Opener open);
  // Stops the worker and destroys every sandbox the pool holds, before returning.
  ~SandboxPool();
  SandboxPool(const SandboxPool&) = delete;
  SandboxPool& operator=(const SandboxPool&) = delete;

  // A prepared sandbox of `spec`'s shape, or null when none is ready (the caller runs without
  // one); either way the shape is kept filled from now on.
  std::unique_ptr<Session> take(const RunSpec& spec);
  // A used sandbox: destroyed on the worker thread, which then prepares its replacement.
  void retire(std::unique_ptr<Session> used);
  // Prepared sandboxes, all shapes (tests, metrics).
  size_t ready() const;

 private:
  struct Shape {
    RunSpec spec;  // the sandbox-level fields only
    std::deque<std::unique_ptr<Session>> ready;
    uint64_t last_used = 0;
    bool failing = false;  // the last preparation failed: retried on the shape's next take
  };

  void work();
  // A shape that lacks a sandbox (its key), or "" when all are full. Called with the lock held.
  std::string next_to_fill() const;
  void evict_least_recent();

  const size_t per_shape_;
  const Opener open_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  uint64_t clock_ = 0;  // orders takes, for eviction
  std::map<std::string, Shape> shapes_;
  std::vector<std::unique_ptr<Session>> retired_;
  std::thread worker_;  // last: started once everything above exists
};

// The key of a spec's sandbox shape: every field NativeSession::open builds the sandbox from.
std::string sandbox_shape_key(const RunSpec& spec);

}  // namespace isol8
