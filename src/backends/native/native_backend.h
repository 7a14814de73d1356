#pragma once
// The native backend: namespaces, a pivot_root'ed read-only root, cgroup limits, seccomp and
// dropped privileges, with no daemon and no image needed.

#include <atomic>
#include <filesystem>
#include <memory>
#include <optional>

#include "backends/backend.h"
#include "backends/native/spawn_plan.h"
#include "cgroups/cgroup_manager.h"
#include "seccomp/compiler.h"

namespace isol8 {

struct NativeBackendConfig {
  uint32_t id_map_base = 1000000;
  std::string hostname = "isol8";
  std::string seccomp_mode = "strict";  // strict | unconfined | custom
  std::filesystem::path custom_profile_path;
};

class NativeBackend final : public Backend {
 public:
  NativeBackend(NativeSettings settings, std::unique_ptr<CgroupManager> cgroups,
                std::optional<SeccompProgram> seccomp);
  const char* name() const override { return "native"; }
  bool has_executable(const std::string& root_dir, const std::string& path) const override;
  Result<RunOutcome> run(const RunSpec& spec, OutputSink& sink, const RunControl& control) override;

 private:
  // Step 3: the run's cgroup (the "none" manager's applies nothing).
  Result<std::unique_ptr<Cgroup>> make_cgroup(const ResourceLimits& limits);

  NativeSettings settings_;
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
