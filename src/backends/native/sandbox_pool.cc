#include "backends/native/sandbox_pool.h"

#include <spdlog/spdlog.h>

#include <fmt/format.h>

namespace isol8 {
namespace {

// The fields a sandbox is built from; the execution's own (code, files, stdin, setup) are left
// out, so that the pool holds no request data.
RunSpec shape_of(const RunSpec& spec) {
  RunSpec shape;
  shape.argv = spec.argv;
  shape.env = spec.env;
  shape.root_dir = spec.root_dir;
  shape.image = spec.image;
  shape.runtime = spec.runtime;
  shape.network = spec.network;
  shape.network_filter = spec.network_filter;
  shape.log_network = spec.log_network;
  shape.sandbox_size_bytes = spec.sandbox_size_bytes;
  shape.tmp_size_bytes = spec.tmp_size_bytes;
  shape.limits = spec.limits;
  shape.timeout = spec.timeout;
  return shape;
}

void append_list(std::string& key, const std::vector<std::string>& list) {
  key += fmt::format("{}:", list.size());
  for (const auto& item : list) key += fmt::format("{}:{}", item.size(), item);
}

}  // namespace

std::string sandbox_shape_key(const RunSpec& spec) {
  // Lengths before strings, so that no two shapes share a key.
  std::string key = fmt::format("{}:{}|{}|{}|{}|{}|{}|{}|{}|", spec.root_dir.size(), spec.root_dir,
                                static_cast<int>(spec.network), spec.log_network ? 1 : 0,
                                spec.sandbox_size_bytes, spec.tmp_size_bytes,
                                spec.limits.memory_bytes, spec.limits.cpus, spec.limits.pids);
  append_list(key, spec.network_filter.whitelist);
  append_list(key, spec.network_filter.blacklist);
  return key;
}

SandboxPool::SandboxPool(size_t per_shape, Opener open)
    : per_shape_(per_shape), open_(std::move(open)), worker_([this] { work(); }) {}

SandboxPool::~SandboxPool() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  worker_.join();
  // The worker destroyed what it held; anything left goes now, before the backend it uses.
  shapes_.clear();
  retired_.clear();
}

std::unique_ptr<Session> SandboxPool::take(const RunSpec& spec) {
  const std::string key = sandbox_shape_key(spec);
  std::unique_ptr<Session> taken;
  {
    std::lock_guard lock(mutex_);
    auto it = shapes_.find(key);
    if (it == shapes_.end()) {
      if (shapes_.size() >= kMaxShapes) evict_least_recent();
      it = shapes_.emplace(key, Shape{shape_of(spec), {}, 0, false}).first;
    }
    Shape& shape = it->second;
    shape.last_used = ++clock_;
    shape.failing = false;
    if (!shape.ready.empty()) {
      taken = std::move(shape.ready.front());
      shape.ready.pop_front();
    }
  }
  // With a sandbox taken, its replacement is prepared once the run retires it: preparing it now
  // would compete with the run for the CPU. Without one, preparation starts at once.
  if (!taken) wake_.notify_one();
  return taken;
}

void SandboxPool::retire(std::unique_ptr<Session> used) {
  if (!used) return;
  {
    std::lock_guard lock(mutex_);
    retired_.push_back(std::move(used));
  }
  wake_.notify_one();
}

size_t SandboxPool::ready() const {
  std::lock_guard lock(mutex_);
  size_t n = 0;
  for (const auto& [key, shape] : shapes_) n += shape.ready.size();
  return n;
}

std::string SandboxPool::next_to_fill() const {
  for (const auto& [key, shape] : shapes_) {
    if (!shape.failing && shape.ready.size() < per_shape_) return key;
  }
  return "";
}

void SandboxPool::evict_least_recent() {
  auto oldest = shapes_.begin();
  for (auto it = shapes_.begin(); it != shapes_.end(); ++it) {
    if (it->second.last_used < oldest->second.last_used) oldest = it;
  }
  for (auto& session : oldest->second.ready) retired_.push_back(std::move(session));
  shapes_.erase(oldest);
}

void SandboxPool::work() {
  std::unique_lock lock(mutex_);
  for (;;) {
    wake_.wait(lock, [&] { return stopping_ || !retired_.empty() || !next_to_fill().empty(); });
    if (stopping_) break;
    if (!retired_.empty()) {
      // Used sandboxes first: they hold processes, a cgroup and maybe a network.
      std::vector<std::unique_ptr<Session>> batch = std::move(retired_);
      retired_.clear();
      lock.unlock();
      batch.clear();
      lock.lock();
      continue;
    }
    const std::string key = next_to_fill();
    const RunSpec spec = shapes_.at(key).spec;
    lock.unlock();
    auto opened = open_(spec);
    lock.lock();
    auto it = shapes_.find(key);
    if (!opened) {
      spdlog::debug("native pool: cannot prepare a sandbox: {}", opened.error().message);
      if (it != shapes_.end()) it->second.failing = true;
      continue;
    }
    if (it == shapes_.end() || stopping_) {
      retired_.push_back(std::move(opened).value());  // its shape was evicted meanwhile
      continue;
    }
    it->second.ready.push_back(std::move(opened).value());
  }
  // Everything the pool holds goes on this thread, which made it.
  std::vector<std::unique_ptr<Session>> left = std::move(retired_);
  retired_.clear();
  for (auto& [key, shape] : shapes_) {
    for (auto& session : shape.ready) left.push_back(std::move(session));
  }
  shapes_.clear();
  lock.unlock();
  left.clear();
}

}  // namespace isol8
