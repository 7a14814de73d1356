#include "server/executor.h"

namespace isol8::server {

Executor::Executor(int workers, int queue_size) : queue_size_(static_cast<size_t>(queue_size)) {
  threads_.reserve(static_cast<size_t>(workers));
  for (int i = 0; i < workers; ++i) threads_.emplace_back([this] { work(); });
}

Executor::~Executor() {
  stop();
  for (auto& t : threads_) t.join();
}

bool Executor::submit(std::function<void()> job) {
  {
    std::lock_guard lock(mutex_);
    if (stopping_) return false;
    // Idle workers take jobs at once, so the queue counts only what waits for one.
    const size_t idle = threads_.size() - static_cast<size_t>(running_.load());
    if (queue_.size() >= queue_size_ + idle) return false;
    queue_.push_back(std::move(job));
  }
  cv_.notify_one();
  return true;
}

void Executor::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    queue_.clear();
  }
  cv_.notify_all();
}

int Executor::queued() const {
  std::lock_guard lock(mutex_);
  return static_cast<int>(queue_.size());
}

void Executor::work() {
  for (;;) {
    std::function<void()> job;
    {
      std::unique_lock lock(mutex_);
      cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;
      job = std::move(queue_.front());
      queue_.pop_front();
      ++running_;
    }
    job();
    --running_;
  }
}

}  // namespace isol8::server
