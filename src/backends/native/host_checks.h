#pragma once
// What the native backend needs from the host, as `isol8 doctor` reports it.

#include <cstdint>
#include <vector>

#include "backends/host_check.h"

namespace isol8 {

// The id mapping that `id_map_base` (native.idMapBase) gives the calling user, the cgroup manager
// and its missing controllers, and the default seccomp profile.
std::vector<Check> check_native_host(uint32_t id_map_base);

}  // namespace isol8
