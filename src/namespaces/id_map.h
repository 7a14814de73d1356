#pragma once
// How the sandbox's user namespace maps ids, and writing those maps from the parent.
//
// - privileged (the runner is root): inside 0..65535 -> host id_map_base.., an unused range;
// - subordinate (rootless, /etc/subuid and /etc/subgid grant the caller >= 65536 ids): the same
//   shape over the granted range, written by the setuid newuidmap/newgidmap;
// - single (rootless, no grant): only the caller's uid/gid, seen as 100/101 inside, with
//   setgroups denied (the kernel's rule for unprivileged maps).

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>

#include "isol8/result.h"

namespace isol8 {

struct IdMapping {
  uint32_t inside = 0;   // first id inside the namespace
  uint32_t outside = 0;  // first id on the host
  uint32_t count = 1;
};

enum class IdMapMode { kPrivileged, kSubordinate, kSingle };

struct IdMapPlan {
  IdMapMode mode = IdMapMode::kPrivileged;
  IdMapping uids;
  IdMapping gids;
  // Whether the child can become root of its namespace (to own the files it creates) and
  // call setgroups(): true unless the mode is single.
  bool full_range() const { return mode != IdMapMode::kSingle; }
};

inline constexpr uint32_t kIdRangeSize = 65536;

// Where to look for subordinate id grants; injectable for tests.
struct SubIdFiles {
  std::string subuid = "/etc/subuid";
  std::string subgid = "/etc/subgid";
  std::string newuidmap = "/usr/bin/newuidmap";
  std::string newgidmap = "/usr/bin/newgidmap";
};

// Chooses the mapping for a caller with these ids. `user_name` may be empty.
IdMapPlan plan_id_maps(uint32_t privileged_base, uid_t euid, gid_t egid,
                       const std::string& user_name, uint32_t sandbox_uid, uint32_t sandbox_gid,
                       const SubIdFiles& files = {});

// The first range of at least `needed` ids granted to `user` (name or numeric id) in a
// subuid/subgid file's text, if any.
std::optional<IdMapping> find_subordinate_range(const std::string& text, const std::string& name,
                                                uint32_t id, uint32_t needed);

// Writes the maps of `pid`'s user namespace according to `plan`.
Result<void> apply_id_maps(pid_t pid, const IdMapPlan& plan, const SubIdFiles& files = {});

}  // namespace isol8
