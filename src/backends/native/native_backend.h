#pragma once
// The native backend: namespaces, a pivot_root'ed read-only root, cgroup limits, seccomp and
// dropped privileges, with no daemon and no image needed.

#include <atomic>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <string_view>
#include <thread>
#include <vector>

#include "backends/backend.h"
#include "backends/native/filtered_network.h"
#include "backends/native/proxy_starter.h"
#include "backends/native/relay_endpoint.h"
#include "backends/native/spawn_plan.h"
#include "cgroups/cgroup_manager.h"
#include "seccomp/compiler.h"

namespace isol8 {

// How a filtered sandbox reaches the proxy. kVeth: a veth pair, an nftables table and the proxy on
// the host end (needs CAP_NET_ADMIN on the host; the fastest). kRelay: a loopback-only sandbox
// whose isol8-relay carries connections to the proxy's Unix socket (needs no privilege).
// kAuto: veth when the runner has CAP_NET_ADMIN as root, else (or when a veth cannot be made)
// the relay.
enum class FilteredMode { kAuto, kVeth, kRelay };

// "auto", "veth" or "relay" (native.filteredMode).
Result<FilteredMode> parse_filtered_mode(std::string_view text);

// kVeth or kRelay: what `configured` means for this process (kAuto: veth as root with
// CAP_NET_ADMIN, else the relay). A veth that cannot be made later still falls back to the relay.
FilteredMode effective_filtered_mode(FilteredMode configured);

struct NativeBackendConfig {
  uint32_t id_map_base = 1000000;
  std::string hostname = "isol8";
  std::string seccomp_mode = "strict";  // strict | unconfined | custom
  std::filesystem::path custom_profile_path;
  // The filtered mode: where sandbox addresses come from, where slots are locked, the proxy.
  std::string network_pool = std::string(AddressPool::kDefaultCidr);
  std::filesystem::path network_lock_dir = SlotLock::kDefaultDir;
  ProxyStarter proxy_starter = builtin_proxy_starter();
  FilteredMode filtered_mode = FilteredMode::kAuto;
  // Start preparing a filtered network at once (the engine's default mode is filtered), so that
  // the first run finds it ready.
  bool prepare_filtered_network = false;
};

// The filtered mode's settings, checked once per backend.
struct NetworkSettings {
  FilteredNetworkConfig network;
  ProxyStarter proxy_starter;
  FilteredMode mode = FilteredMode::kRelay;  // kVeth or kRelay, decided once
  bool relay_fallback = false;  // kAuto chose veth: a failure to make one switches to the relay
};

class NativeBackend final : public Backend {
 public:
  NativeBackend(NativeSettings settings, std::unique_ptr<CgroupManager> cgroups,
                std::optional<SeccompProgram> seccomp, NetworkSettings network);
  ~NativeBackend() override;
  // A filtered network whose preparation has started (see prepare_filtered_network).
  void adopt_spare(std::future<Result<std::unique_ptr<FilteredNetwork>>> spare) {
    std::lock_guard lock(network_mutex_);
    spare_ = std::move(spare);
  }
  const char* name() const override { return "native"; }
  bool has_executable(const std::string& root_dir, const std::string& path) const override;
  Result<RunOutcome> run(const RunSpec& spec, OutputSink& sink, const RunControl& control) override;

 private:
  // Step 3: the run's cgroup (the "none" manager's applies nothing).
  Result<std::unique_ptr<Cgroup>> make_cgroup(const ResourceLimits& limits);

  // The filtered mode's host side (network slot, firewall table, proxy) and its extras.
 public:
  struct FilteredRun;

 private:
  Result<void> start_filtered(const RunSpec& spec, FilteredRun& run, SpawnExtras& extras);
  Result<void> start_relay(const RunSpec& spec, FilteredRun& run, SpawnExtras& extras);

  // One filtered network is kept ready, prepared in the background; a run takes it and starts
  // the next. Teardown (the firewall table's removal waits for an RCU grace period) also runs
  // in the background, off the caller's path; the destructor waits for both.
  Result<std::unique_ptr<FilteredNetwork>> take_network();
  void prepare_spare_locked();
  void retire(std::unique_ptr<FilteredRun> run);

  NativeSettings settings_;
  NetworkSettings network_;
  std::mutex network_mutex_;
  std::condition_variable retire_cv_;
  std::future<Result<std::unique_ptr<FilteredNetwork>>> spare_;
  uint64_t filtered_runs_ = 0;
  std::atomic<bool> use_relay_{false};  // the relay mode, chosen or fallen back to
  std::deque<std::unique_ptr<FilteredRun>> retire_queue_;
  std::thread retirer_;
  bool stopping_ = false;
  std::unique_ptr<CgroupManager> cgroups_;
  std::optional<SeccompProgram> seccomp_;
  // Each run's cgroup is named <instance>-<run>: unique even with several engines in a process.
  std::string instance_;
  std::atomic<uint64_t> runs_{0};
  std::atomic<bool> warned_limits_{false};  // the "limits not enforced" warning is given once
};

// Decides the id mapping for the calling user (root, subordinate ids or a single id), detects
// the cgroup manager (reclaiming cgroups of dead runners) and compiles the seccomp policy.
// Fails when the seccomp profile cannot be loaded: the run is refused, never left unfiltered.
Result<std::unique_ptr<Backend>> make_native_backend(const NativeBackendConfig& config);

}  // namespace isol8
