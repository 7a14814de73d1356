#pragma once
// clone3 with a pidfd: the parent gets an fd that names the child for good (no pid reuse races),
// polls readable when it exits and can signal it.

#include <sys/types.h>

#include <cstdint>

#include "common/unique_fd.h"
#include "isol8/result.h"

namespace isol8 {

struct CloneResult {
  pid_t pid = 0;  // 0 in the child
  UniqueFd pidfd;
};

// Like fork(): returns twice. `flags` are CLONE_NEW* namespace flags; CLONE_PIDFD is added.
// With `cgroup_fd` >= 0 (cgroup v2) the child starts inside that cgroup (CLONE_INTO_CGROUP), so
// not one instruction of it runs outside its limits.
Result<CloneResult> clone_with_pidfd(uint64_t flags, int cgroup_fd = -1);

Result<void> pidfd_kill(int pidfd, int sig);

}  // namespace isol8
