#pragma once
// The native backend: namespaces, a pivot_root'ed read-only root, cgroup limits, seccomp and
// dropped privileges, with no daemon and no image needed.

#include <atomic>
#include <filesystem>
#include <memory>
#include <optional>
#include <string_view>

#include "backends/backend.h"
#include "backends/native/filtered_host_side.h"
#include "backends/native/filtered_network.h"
#include "backends/native/native_session.h"
#include "backends/native/proxy_starter.h"
#include "backends/native/sandbox_pool.h"
#include "backends/native/sandbox_process.h"
#include "backends/native/spawn_plan.h"
#include "cgroups/cgroup_manager.h"
#include "network/netns_slot.h"
#include "seccomp/compiler.h"

namespace isol8 {

// kVeth or kRelay: what `configured` means for this process (kAuto: veth as root with
// CAP_NET_ADMIN, else the relay). A veth that cannot be made later still falls back to the relay.
FilteredMode effective_filtered_mode(FilteredMode configured);

struct NativeBackendConfig {
  uint32_t id_map_base = 1000000;
  std::string hostname = "isol8";
  SeccompMode seccomp_mode = SeccompMode::kStrict;
  std::filesystem::path custom_profile_path;
  // The filtered mode: where sandbox addresses come from, where slots are locked, the proxy.
  std::string network_pool = std::string(AddressPool::kDefaultCidr);
  std::filesystem::path network_lock_dir = SlotLock::kDefaultDir;
  ProxyStarter proxy_starter = builtin_proxy_starter();
  FilteredMode filtered_mode = FilteredMode::kAuto;
  // Start preparing a filtered network at once (the engine's default mode is filtered), so that
  // the first run finds it ready.
  bool prepare_filtered_network = false;
  // Sandboxes kept ready per sandbox shape for ephemeral runs (sandbox_pool.h); 0: no pool.
  size_t pool_size = 0;
  // Reused one-run cgroups (CgroupRoots::slot_count); 0: none.
  uint32_t cgroup_slots = 0;
  // Network namespaces made ahead for `--net none` runs (network/netns_slot.h), at most this
  // many at once, as root; 0: each run's clone3 makes its own.
  uint32_t netns_slots = 0;
  std::filesystem::path netns_slot_dir = NetnsSlot::kDefaultDir;
};

// The filtered mode's settings, checked once per backend.
struct NetworkSettings {
  FilteredNetworkConfig network;
  ProxyStarter proxy_starter;
  FilteredMode mode = FilteredMode::kRelay;  // kVeth or kRelay, decided once
  bool relay_fallback = false;  // kAuto chose veth: a failure to make one switches to the relay
  // `--net none`: namespaces made ahead (NativeBackendConfig::netns_slots); 0: none.
  uint32_t netns_slots = 0;
  std::filesystem::path netns_slot_dir;
};

class NativeBackend final : public Backend {
 public:
  NativeBackend(NativeSettings settings, std::unique_ptr<CgroupManager> cgroups,
                std::optional<SeccompProgram> seccomp, NetworkSettings network);
  ~NativeBackend() override;
  // A filtered network whose preparation has started (see prepare_filtered_network).
  void adopt_spare(FilteredHostSide::PreparedNetwork spare) {
    filtered_.adopt_spare(std::move(spare));
  }
  const char* name() const override { return "native"; }
  bool has_executable(const std::string& root_dir, const std::string& path) const override;
  // The steps are numbered as in the spawn sequence (spawn_plan.h).
  Result<RunOutcome> run(const RunSpec& spec, OutputSink& sink, const RunControl& control) override;
  // A sandbox whose init serves executions and file transfers (native_session.h).
  Result<std::unique_ptr<Session>> open_session(const RunSpec& spec) override;
  // Keeps `per_shape` sandboxes ready for ephemeral runs from now on (sandbox_pool.h).
  void enable_pool(size_t per_shape);
  // Prepared sandboxes in the pool (0 without one).
  size_t pooled_sandboxes() const { return pool_ ? pool_->ready() : 0; }

 private:
  friend class NativeSession;  // a session's sandbox is made from the same pieces as a run's

  // <instance>-<n>: unique even with several engines in a process.
  std::string next_sandbox_name();
  // Step 3: the sandbox's cgroup (the "none" manager's applies nothing). `one_run`: see
  // CgroupLimits::one_run.
  Result<std::unique_ptr<Cgroup>> make_cgroup(const std::string& name, const ResourceLimits& limits,
                                              bool one_run);
  // Step 1c (`--net none`): the run's slot of namespaces made ahead, when there is one (a
  // failure is only slower: the run's clone3 makes the namespace).
  std::optional<NetnsSlot> claim_netns_slot();
  // `read` is the cgroup's usage when it was read already (see run()).
  void record_usage(RunOutcome& outcome, const SandboxProcess& sandbox, Cgroup* cgroup,
                    std::optional<Result<CgroupUsage>> read = std::nullopt);
  // The limits `cgroup` (none: no cgroup at all) cannot apply, and the once-per-backend warning
  // that names them.
  static std::vector<std::string> unenforced_limits(const Cgroup* cgroup);
  void warn_unenforced_limits(const Cgroup* cgroup);

  NativeSettings settings_;
  FilteredHostSide filtered_;
  std::unique_ptr<CgroupManager> cgroups_;
  std::optional<SeccompProgram> seccomp_;
  uint32_t netns_slots_ = 0;
  std::filesystem::path netns_slot_dir_;
  // Each run's cgroup is named <instance>-<run>: unique even with several engines in a process.
  std::string instance_;
  std::atomic<uint64_t> runs_{0};
  std::atomic<bool> warned_limits_{false};  // the "limits not enforced" warning is given once
  // Last, so that it goes first: its sandboxes use everything above.
  std::unique_ptr<SandboxPool> pool_;
};

// Decides the id mapping for the calling user (root, subordinate ids or a single id), detects
// the cgroup manager (reclaiming cgroups of dead runners) and compiles the seccomp policy.
// Fails when the seccomp profile cannot be loaded: the run is refused, never left unfiltered.
Result<std::unique_ptr<Backend>> make_native_backend(const NativeBackendConfig& config);

}  // namespace isol8
