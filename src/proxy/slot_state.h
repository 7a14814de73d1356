#pragma once
// State shared between a slot of the proxy, its acceptors and its sessions (internal).

#include <condition_variable>
#include <cstddef>
#include <memory>
#include <mutex>
#include <vector>

#include "isol8/types.h"
#include "proxy/filtering_proxy.h"
#include "proxy/host_filter.h"

namespace isol8::proxy {

// A compiled ProxyConfig; immutable, so that sessions can share it without locking.
struct Policy {
  HostFilter filter;
  bool log_network = false;
  ProxyLimits limits;
};

class SlotState {
 public:
  explicit SlotState(std::shared_ptr<const Policy> policy) : policy_(std::move(policy)) {}

  std::shared_ptr<const Policy> policy() const {
    std::lock_guard lock(mu_);
    return policy_;
  }
  void set_policy(std::shared_ptr<const Policy> policy) {
    std::lock_guard lock(mu_);
    policy_ = std::move(policy);
  }

  // Counts a new connection unless the limit is reached.
  bool try_open(size_t limit) {
    std::lock_guard lock(mu_);
    if (open_ >= limit) return false;
    ++open_;
    return true;
  }
  void closed() {
    {
      std::lock_guard lock(mu_);
      --open_;
    }
    cv_.notify_all();
  }
  // Waits until no connection is open; false when `timeout` passed first.
  template <class Duration>
  bool wait_idle(Duration timeout) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return open_ == 0; });
  }

  void log(NetworkLogEntry entry) {
    std::lock_guard lock(mu_);
    logs_.push_back(std::move(entry));
  }
  std::vector<NetworkLogEntry> take_logs() {
    std::lock_guard lock(mu_);
    return std::exchange(logs_, {});
  }

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::shared_ptr<const Policy> policy_;
  size_t open_ = 0;
  std::vector<NetworkLogEntry> logs_;
};

}  // namespace isol8::proxy
