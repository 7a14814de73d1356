#pragma once
// Step 9 of the spawn sequence, in the sandbox child: the new root assembled from the mount plan,
// pivot_root, the old root detached, the root read-only. No allocation, no logging, no
// exceptions (it runs between clone3 and execve).

#include "namespaces/mount_plan.h"

namespace isol8::child {

// Fails the child (fail(): a report to the parent and _exit) at the first step that fails.
void build_root(const MountPlan& plan);

}  // namespace isol8::child
