#pragma once
// The native backend's side of the filtered network mode, on the host: per run either a veth
// network (a prepared network namespace, its firewall table and slot) or a relay endpoint, and
// the filtering proxy listening where that sandbox can reach it. One veth network is kept ready,
// prepared in the background, so that a run takes it and the next is started; a finished run's
// teardown (the firewall table's removal waits for an RCU grace period) also runs in the
// background, off the caller's path. The destructor waits for both.

#include <atomic>
#include <condition_variable>
#include <deque>
#include <future>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "backends/backend.h"
#include "backends/native/filtered_network.h"
#include "backends/native/proxy_starter.h"
#include "backends/native/relay_endpoint.h"
#include "backends/native/spawn_plan.h"

namespace isol8 {

// One run's host side. Its members are destroyed in reverse order: the proxy stops (and removes
// its socket) before the relay endpoint's directory goes and before the network slot is released.
class FilteredRun {
 public:
  // The network namespace to clone the sandbox into; -1 with the relay (the sandbox gets a
  // loopback-only namespace of its own).
  int netns_fd() const { return network_ ? network_->netns_fd() : -1; }
  std::vector<NetworkLogEntry> take_logs() { return proxy_->take_logs(); }

 private:
  friend class FilteredHostSide;

  std::unique_ptr<FilteredNetwork> network_;
  std::unique_ptr<RelayEndpoint> relay_;
  std::unique_ptr<RunProxy> proxy_;
};

class FilteredHostSide {
 public:
  using PreparedNetwork = std::future<Result<std::unique_ptr<FilteredNetwork>>>;

  // `use_relay`: every run uses the relay. `relay_fallback`: a veth that cannot be made switches
  // this and every later run to the relay (native.filteredMode "auto").
  FilteredHostSide(FilteredNetworkConfig network, ProxyStarter proxy_starter, bool use_relay,
                   bool relay_fallback);
  ~FilteredHostSide();
  FilteredHostSide(const FilteredHostSide&) = delete;
  FilteredHostSide& operator=(const FilteredHostSide&) = delete;

  // A veth network whose preparation has started (the backend's first run will take it).
  void adopt_spare(PreparedNetwork spare);

  // Sets up one run's host side, and adds to `extras` what the sandbox needs to use it (the
  // proxy's environment, the relay's descriptors, the network namespace to join).
  Result<std::unique_ptr<FilteredRun>> start(const RunSpec& spec, SpawnExtras& extras);

  // Once the sandbox's init has exited: a veth run's side is torn down in the background, a relay
  // run's at once.
  void retire(std::unique_ptr<FilteredRun> run);

 private:
  Result<void> start_veth(const RunSpec& spec, FilteredRun& run, SpawnExtras& extras);
  Result<void> start_relay(const RunSpec& spec, FilteredRun& run, SpawnExtras& extras);
  Result<std::unique_ptr<FilteredNetwork>> take_network();
  void prepare_spare_locked();

  const FilteredNetworkConfig network_;
  const ProxyStarter proxy_starter_;
  const bool relay_fallback_;
  std::atomic<bool> use_relay_;  // the relay mode, chosen or fallen back to
  std::once_flag relay_dirs_reclaimed_;
  std::mutex mutex_;
  std::condition_variable retire_cv_;
  PreparedNetwork spare_;
  uint64_t filtered_runs_ = 0;
  std::deque<std::unique_ptr<FilteredRun>> retire_queue_;
  std::thread retirer_;
  bool stopping_ = false;
};

}  // namespace isol8
