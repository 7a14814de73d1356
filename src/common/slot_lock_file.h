#pragma once
// The lock of one slot of a resource that outlives the runs using it (reused cgroups, network
// namespaces made ahead): <dir>/<name>, held with flock() while a run uses the slot. The lock
// dies with its holder, even on SIGKILL. The files are never removed, so that two processes can
// never hold locks on two different files of the same name.

#include <filesystem>
#include <optional>
#include <string>

#include "common/unique_fd.h"
#include "isol8/result.h"

namespace isol8 {

// Opens <dir>/<name> (creating it 0600, and `dir` 0700 with its parent 0755 when missing: both
// live on /run, gone at every boot) and locks it without waiting. nullopt when another process
// holds the lock.
Result<std::optional<UniqueFd>> try_lock_slot_file(const std::filesystem::path& dir,
                                                   const std::string& name);

}  // namespace isol8
