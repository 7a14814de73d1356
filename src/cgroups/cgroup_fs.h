#pragma once
// Internal helpers shared by the v1, v2 and none managers: control-file I/O, the isol8-<pid>-<name>
// naming scheme, and the kill / remove loops. Parent side only (they allocate and may log).

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cgroups/cgroup_manager.h"
#include "isol8/result.h"

namespace isol8::cgroups {

inline constexpr const char* kParentDir = "isol8";
inline constexpr std::chrono::milliseconds kRemoveTimeout{1000};
inline constexpr uint64_t kCpuPeriodUsec = 100000;

// The CFS quota for `cpus` CPUs per kCpuPeriodUsec, at least the kernel's minimum of 1000 us.
uint64_t cpu_quota_usec(double cpus);

// CgroupLimits in the kernel's terms, as written to a cgroup: 0 is no limit.
struct AppliedLimits {
  uint64_t memory_bytes = 0;
  uint64_t pids_max = 0;
  uint64_t cpu_quota_usec = 0;  // per kCpuPeriodUsec
  bool operator==(const AppliedLimits&) const = default;
};
AppliedLimits applied_limits(const CgroupLimits& limits);
// The names of the limits set: any of "memory", "pids", "cpu", in that order.
std::vector<std::string> enforced_names(const AppliedLimits& limits);

// Checks a caller's sandbox name: [A-Za-z0-9._-], 1 to 64 characters, not "." or "..".
Result<void> validate_name(std::string_view name);
// "isol8-<owner>-<name>".
std::string dir_name(pid_t owner, std::string_view name);
// The owner pid of a directory named isol8-<pid>-<something>; nullopt for any other name.
std::optional<pid_t> owner_pid(std::string_view dir_name);
// The name a kept sandbox's cgroup gets (Cgroup::hand_over): "isol8-<owner>-kept-<the part of
// `dir_name` after its own owner>", so that the kept init is its owner.
std::string kept_dir_name(pid_t owner, std::string_view dir_name);
// Whether a directory named isol8-<pid>-<something> is a kept sandbox's (see kept_dir_name).
bool is_kept_dir_name(std::string_view dir_name);
// kill(pid, 0) succeeds or fails with EPERM, and /proc does not show it as a zombie.
bool pid_alive(pid_t pid);

bool file_exists(const std::filesystem::path& path);
// Writes `value` to an existing control file in one write(2) (no O_CREAT: the kernel makes them;
// O_TRUNC, like a shell's >, so a test's regular file holds just `value`).
Result<void> write_control(const std::filesystem::path& path, std::string_view value);
Result<std::string> read_control(const std::filesystem::path& path);
// A control file holding one decimal number.
Result<uint64_t> read_u64(const std::filesystem::path& path);
// The pids listed in a cgroup.procs file.
Result<std::vector<pid_t>> read_procs(const std::filesystem::path& procs_file);

// mkdir through `ops`; EEXIST is success when `may_exist`.
Result<void> make_dir(const CgroupFsOps& ops, const std::filesystem::path& dir, bool may_exist);
// A sandbox's cgroup <mount>/isol8/<name>: mkdir, and the "isol8" parent first when it is missing
// (it exists after the first run on a host, so it is made only then).
Result<void> make_sandbox_dir(const CgroupFsOps& ops, const std::filesystem::path& dir);
// rename(2); cgroupfs renames a cgroup within its parent directory.
Result<void> rename_dir(const std::filesystem::path& from, const std::filesystem::path& to);
// Removes the directories in reverse order, logging failures: the undo step of create().
void remove_dirs_logged(const CgroupFsOps& ops, const std::vector<std::filesystem::path>& dirs);
// rmdir through `ops`, retrying EBUSY (a cgroup whose dying tasks have not left yet) for up to
// kRemoveTimeout; ENOENT is success.
Result<void> remove_dir(const CgroupFsOps& ops, const std::filesystem::path& dir);

// SIGKILLs every pid listed in each `procs_files` until they are all empty, for up to `timeout`.
Result<void> kill_until_empty(const std::vector<std::filesystem::path>& procs_files,
                              std::chrono::milliseconds timeout);
// Polls `done` every millisecond or so until it returns true or `timeout` passes.
bool poll_until(std::chrono::milliseconds timeout, const std::function<bool()>& done);

// The sub-directories of <root>/isol8 named isol8-<pid>-*. Empty when there is no parent directory.
Result<std::vector<std::filesystem::path>> list_owned_dirs(const std::filesystem::path& root);

}  // namespace isol8::cgroups
