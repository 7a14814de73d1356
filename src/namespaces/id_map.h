#pragma once
// uid_map / gid_map of a child's user namespace, written by the parent.

#include <sys/types.h>

#include <cstdint>

#include "isol8/result.h"

namespace isol8 {

struct IdMapping {
  uint32_t inside = 0;   // first id inside the namespace
  uint32_t outside = 0;  // first id on the host
  uint32_t count = 1;
};

// Writes one mapping range for uids and one for gids. `deny_setgroups` is required when the
// writer lacks CAP_SETGID in the parent namespace (rootless).
Result<void> write_id_maps(pid_t pid, const IdMapping& uids, const IdMapping& gids,
                           bool deny_setgroups);

}  // namespace isol8
