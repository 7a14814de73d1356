// The native backend made from the engine's options: a translation unit of its own, so that a
// program that links only the native backend (the isol8 binary) can make one without pulling in
// the docker backend through make_backend.

#include <utility>

#include "backends/factory.h"
#include "backends/native/native_backend.h"
#include "common/companion_binaries.h"

namespace isol8 {
namespace {

// A one-shot engine: the CLI's, the server's per-request ones (ephemeral, no warm pool).
bool runs_once(const Options& options) {
  return options.mode == EngineMode::kEphemeral && options.pool_size.clean == 0;
}

// The native backend's own configuration, from the engine's options.
Result<NativeBackendConfig> native_config(const Options& options) {
  NativeBackendConfig config;
  config.id_map_base = options.native.id_map_base;
  config.hostname = options.native.hostname;
  config.seccomp_mode = options.security.seccomp;
  config.custom_profile_path = options.security.custom_profile_path;
  config.prepare_filtered_network = options.network == NetworkMode::kFiltered;
  config.network_pool = options.native.network_pool;
  config.filtered_mode = options.native.filtered_mode;
  config.cgroup_slots = options.native.cgroup_slots;
  config.netns_slots = options.native.netns_slots;
  // (Looked up only for a filtered run: the relay binary's search is not for every run's path.)
  if (config.filtered_mode == FilteredMode::kAuto && options.network == NetworkMode::kFiltered &&
      runs_once(options) && find_relay_binary().has_value()) {
    // One filtered network for one run: the relay costs about 1 ms over --net none, where a veth
    // (a namespace, the pair, a table, their teardown) costs about 4 (bench/ isol8_bench --group
    // net). Engines that run many times keep the veth, which they prepare ahead, off the path.
    config.filtered_mode = FilteredMode::kRelay;
  }
  // Upstream's poolSize: `clean` sandboxes kept ready per shape for an ephemeral engine (a
  // native sandbox is used once, so there is nothing "dirty" to keep; both strategies are the
  // same here). A persistent engine has its one sandbox.
  if (options.mode == EngineMode::kEphemeral && options.pool_size.clean > 0) {
    config.pool_size = static_cast<size_t>(options.pool_size.clean);
  }
  return config;
}

}  // namespace

Result<std::unique_ptr<Backend>> make_native_backend_for(const Options& options) {
  auto config = native_config(options);
  if (!config) return std::move(config).error();
  return make_native_backend(*config);
}

}  // namespace isol8
