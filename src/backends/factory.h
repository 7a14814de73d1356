#pragma once
// The one place a backend is made from the engine's typed options, and the host-level questions
// the layers above ask the backends: what the host offers them (`isol8 doctor`) and what dead
// runs left behind (`isol8 cleanup`).

#include <sys/types.h>

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "backends/backend.h"
#include "backends/host_check.h"
#include "isol8/types.h"

namespace isol8 {

// The backend `options.backend` names, configured from the same options.
Result<std::unique_ptr<Backend>> make_backend(const Options& options);
// The native backend, whatever options.backend says: for a program that links no other backend
// (the isol8 binary, which hands docker runs to isol8-full).
Result<std::unique_ptr<Backend>> make_native_backend_for(const Options& options);

// The native backend's requirements on this host (user namespaces, the id mapping the options'
// id-map base gives, cgroups, seccomp), without running anything.
std::vector<Check> check_native_host(const Options& options);

// Which way filtered runs of the native backend reach the proxy (veth or relay) and why
// (native.filteredMode and this process's privileges).
Check check_filtered_mode(const Options& options);

// Whether a Docker daemon answers at DOCKER_HOST (or the default socket).
Check check_docker_daemon();

// What dead runners of either backend left behind on this host.
struct Leftovers {
  size_t cgroups = 0;        // stale cgroups of native runs
  size_t proxy_dirs = 0;     // proxy directories of killed runners (native relay and docker)
  size_t network_slots = 0;  // slot lock files of killed native runners' filtered networks
  size_t cgroup_slots = 0;   // reused cgroups of one-shot native runs that no run holds
  size_t netns_slots = 0;    // network namespaces made ahead for one-shot runs, no run holding them
};
// Removes them. Fails only when the stale cgroups or the idle namespaces made ahead cannot be
// removed (the counts of proxy directories and network slots are still reported through
// `removed`).
Result<void> reclaim_leftovers(Leftovers& removed);

// A native sandbox kept by --persist (NativeSession::keep) whose init still runs, found by its
// cgroup (named after the init).
struct KeptNativeSandbox {
  std::string cgroup;  // the cgroup's directory name
  pid_t init_pid = 0;
};
Result<std::vector<KeptNativeSandbox>> list_kept_native_sandboxes();
// Kills it (everything in its cgroup, init first among them, which ends its namespaces) and
// removes its cgroup.
Result<void> remove_kept_native_sandbox(const KeptNativeSandbox& kept);

}  // namespace isol8
