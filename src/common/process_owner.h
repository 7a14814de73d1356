#pragma once
// Who owns a resource that outlives its runner's process when that process is SIGKILLed (a Docker
// container): "<boot id>/<pid namespace inode>/<pid>/<start time>". The boot id and the pid
// namespace say whether the pid can be asked about from here at all (a daemon behind a tcp://
// DOCKER_HOST also serves other machines; a runner inside another container has pids of its own);
// the start time (clock ticks after boot, /proc/<pid>/stat field 22) tells a reused pid from the
// owner.

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "isol8/result.h"

namespace isol8 {

struct ProcessOwner {
  std::string boot_id;
  uint64_t pid_ns = 0;
  pid_t pid = 0;
  uint64_t start_time = 0;
  bool operator==(const ProcessOwner&) const = default;
};

std::string format_owner(const ProcessOwner& owner);
// nullopt unless exactly four '/'-separated fields: a non-empty boot id and three decimal numbers
// (pid > 0).
std::optional<ProcessOwner> parse_owner(std::string_view text);

// This process, from /proc (boot_id, ns/pid, self/stat).
Result<ProcessOwner> current_owner();

// The start time (field 22) of a /proc/<pid>/stat line, whose command name may hold spaces and
// parentheses.
std::optional<uint64_t> parse_stat_start_time(std::string_view stat);

// What this process can see of a pid: whether it exists, and its start time when readable.
struct ProcessState {
  bool exists = false;
  std::optional<uint64_t> start_time;
};
using ProcessProbe = std::function<ProcessState(pid_t)>;
// kill(pid, 0) (EPERM counts as existing: /proc may hide other users' processes) and
// /proc/<pid>/stat.
ProcessState probe_process(pid_t pid);

// True only when `label` names an owner on this boot and in this pid namespace whose process is
// gone or whose pid now belongs to a process started at another time. A malformed label, another
// boot or pid namespace, a live owner, or one whose start time cannot be read: false (keep).
bool owner_is_dead(std::string_view label, const ProcessOwner& self,
                   const ProcessProbe& probe = probe_process);

}  // namespace isol8
