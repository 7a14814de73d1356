#pragma once
// The bounded worker pool that runs executions off the network thread: `workers` threads (the
// config's maxConcurrent) and a queue of at most `queue_size` waiting jobs. A job that finds the
// queue full is refused at once (the caller answers 503 with Retry-After) instead of waiting
// without bound as upstream's semaphore does.

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace isol8::server {

class Executor {
 public:
  Executor(int workers, int queue_size);
  ~Executor();  // finishes running jobs, drops queued ones (their owners see no completion)
  Executor(const Executor&) = delete;
  Executor& operator=(const Executor&) = delete;

  // False when the queue is full or the pool is stopping.
  bool submit(std::function<void()> job);

  // Waiting jobs are dropped; running ones finish. Idempotent.
  void stop();

  int running() const { return running_.load(); }
  int queued() const;
  int workers() const { return static_cast<int>(threads_.size()); }

 private:
  void work();

  const size_t queue_size_;
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> queue_;
  bool stopping_ = false;
  std::atomic<int> running_{0};
  std::vector<std::thread> threads_;
};

}  // namespace isol8::server
