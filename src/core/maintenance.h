#pragma once
// Host maintenance for `isol8 cleanup` and the start of `isol8 serve`: what dead runners of
// either backend left behind (stale cgroups of native runs, the network slots and proxy
// directories of killed runners), asked of the backends.

#include "backends/factory.h"

namespace isol8 {

// Removes them; `removed` counts what went. Fails only when the stale cgroups cannot be listed
// or removed (the network slots and proxy directories are removed and counted regardless).
inline Result<void> remove_dead_runs_leftovers(Leftovers& removed) {
  return reclaim_leftovers(removed);
}

}  // namespace isol8
