#include "backends/factory.h"

#include <unistd.h>

#include <fmt/format.h>

#include "backends/docker/daemon_check.h"
#include "backends/docker/docker_backend.h"
#include "backends/docker/reclaim.h"
#include "backends/native/host_checks.h"
#include "backends/native/native_backend.h"
#include "backends/native/relay_endpoint.h"
#include "cgroups/cgroup_fs.h"
#include "cgroups/cgroup_manager.h"
#include "common/pid_dirs.h"
#include "network/netns_slot.h"
#include "network/slot_lock.h"

namespace isol8 {

Result<std::unique_ptr<Backend>> make_backend(const Options& options) {
  if (options.backend == BackendKind::kDocker) return make_docker_backend(options);
  return make_native_backend_for(options);
}

std::vector<Check> check_native_host(const Options& options) {
  return check_native_host(options.native.id_map_base);
}

Check check_filtered_mode(const Options& options) {
  const FilteredMode configured = options.native.filtered_mode;
  const bool veth = effective_filtered_mode(configured) == FilteredMode::kVeth;
  std::string why = "native.filteredMode";
  if (configured == FilteredMode::kAuto) {
    why = veth               ? "auto: root with CAP_NET_ADMIN"
          : ::geteuid() == 0 ? "auto: root without CAP_NET_ADMIN"
                             : "auto: not root";
  }
  return {
      Check::Level::kOk, "filtered network",
      veth ? fmt::format("veth: a veth pair, an nftables table and the proxy per run ({}); "
                         "one-shot runs (isol8 run, the server's ephemeral requests) use the relay",
                         why)
           : fmt::format("relay: a loopback-only sandbox and isol8-relay to the proxy ({})", why)};
}

Check check_docker_daemon() { return docker::check_daemon(); }

Result<void> reclaim_leftovers(Leftovers& removed) {
  // The proxy directories of killed runners (their proxies died with them): the native relay's
  // and the docker backend's, named after the runner's pid.
  removed.proxy_dirs =
      RelayEndpoint::reclaim_stale() + remove_dead_pid_dirs(docker::kProxyDirPrefix);
  // The slot locks of killed runners' filtered networks (their tables and namespaces died with
  // them; the lock files stay until a runner removes them).
  removed.network_slots = SlotLock::reclaim_stale(SlotLock::kDefaultDir);
  // Cgroups of runners that died without removing them, and the reused cgroups of one-shot
  // runs that no run holds now.
  auto manager = detect_cgroup_manager();
  auto cgroups = manager->reclaim_stale();
  if (!cgroups) return std::move(cgroups).error();
  removed.cgroups = *cgroups;
  auto slots = manager->remove_idle_slots();
  if (!slots) return std::move(slots).error();
  removed.cgroup_slots = *slots;
  // The network namespaces one-shot runs made for the next (kept by a mount each).
  auto namespaces = NetnsSlot::remove_idle(NetnsSlot::kDefaultDir);
  if (!namespaces)
    return std::move(namespaces)
        .error()
        .context("while removing the network namespaces made ahead");
  removed.netns_slots = *namespaces;
  return {};
}

Result<std::vector<KeptNativeSandbox>> list_kept_native_sandboxes() {
  auto names = detect_cgroup_manager()->list_kept();
  if (!names) return std::move(names).error();
  std::vector<KeptNativeSandbox> kept;
  for (std::string& name : *names) {
    const auto pid = cgroups::owner_pid(name);
    if (pid) kept.push_back({std::move(name), *pid});
  }
  return kept;
}

Result<void> remove_kept_native_sandbox(const KeptNativeSandbox& kept) {
  return detect_cgroup_manager()->remove_kept(kept.cgroup);
}

}  // namespace isol8
