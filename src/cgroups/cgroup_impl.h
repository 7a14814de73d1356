#pragma once
// The managers behind detect_cgroup_manager(), for detection and tests.

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "cgroups/cgroup_fs.h"
#include "cgroups/cgroup_manager.h"

namespace isol8::cgroups {

// Checks that the cgroup2 hierarchy at `root` can host sandboxes; the error says why not.
Result<void> probe_v2(const std::filesystem::path& root);
std::unique_ptr<CgroupManager> make_v2_manager(std::filesystem::path root,
                                               const CgroupRoots& roots);

// Checks that memory, pids, cpu and freezer are mounted and writable; `notes` gains what works
// only partly (no cpuacct, no memsw).
Result<void> probe_v1(const std::map<std::string, std::filesystem::path>& mounts,
                      std::vector<std::string>* notes);
// v1 control files shared by a run's own cgroup and a reused slot (cgroup_v1_files.cc).
// controller -> the cgroup's directory in that controller's hierarchy.
using V1Dirs = std::map<std::string, std::filesystem::path>;
// The `tasks` file of each directory, open for writing: what Cgroup::open_self_join_files gives.
Result<std::vector<UniqueFd>> open_tasks_files(const std::vector<std::filesystem::path>& dirs);
// The counters v1 cannot reset, into `u`: OOM kills (memory) and pids.max refusals (pids).
Result<void> read_v1_counters(const V1Dirs& dirs, CgroupUsage& u);
// Peak memory, OOM kills, pids.max refusals and CPU time, from the hierarchies in `dirs`.
Result<CgroupUsage> read_v1_usage(const V1Dirs& dirs);
// Writes the limits of `want` that differ from `have` (0: the kernel's "no limit"), in an order
// the kernel accepts: memory.limit_in_bytes may not exceed memory.memsw.limit_in_bytes.
Result<void> write_v1_limits(const V1Dirs& dirs, const AppliedLimits& want,
                             const AppliedLimits& have);

// Reused one-run cgroups (cgroup_v1_slots.cc). The first of `roots.slot_count` slots that no
// other process holds, ready for a run with `limits`; nullptr when all are held.
// `mounts`: the hierarchies a one-run cgroup uses.
Result<std::unique_ptr<Cgroup>> claim_v1_slot(const V1Dirs& mounts, const CgroupRoots& roots,
                                              const CgroupLimits& limits);
// Removes the cgroups of every slot no process holds; returns how many slots had some.
Result<std::size_t> remove_idle_v1_slots(const V1Dirs& mounts, const CgroupRoots& roots);

std::unique_ptr<CgroupManager> make_v1_manager(std::map<std::string, std::filesystem::path> mounts,
                                               const CgroupRoots& roots,
                                               std::vector<std::string> notes);

}  // namespace isol8::cgroups
