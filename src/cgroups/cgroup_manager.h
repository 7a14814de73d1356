#pragma once
// Per-sandbox cgroups behind one interface, with v2, v1 and "none" implementations (crun's manager
// table, youki's trait). A cgroup this library creates is a directory named
// isol8-<owner pid>-<name> under an "isol8" parent in each hierarchy it uses, so a later runner can
// tell which ones a dead runner left behind (reclaim_stale); or, for a one-shot run on v1, a
// reused slot-<n>-<id> (CgroupRoots::slot_count), guarded by a lock file instead.
//
// Order for the native spawn (GUIDE steps 3, 5, 12, 13): create() before clone3; on v2 pass
// clone_into_fd() with CLONE_INTO_CGROUP; on v1 (clone_into_fd() == -1) call add_process(child)
// before sending "go"; after the run read usage(), then let the Cgroup go (its destructor kills
// whatever is left and removes the directories, or gives a clean slot back).

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/unique_fd.h"
#include "isol8/result.h"

namespace isol8 {

// What one sandbox may use. 0 (for cpus: <= 0) means no limit for that resource.
struct CgroupLimits {
  uint64_t memory_bytes = 0;  // also the memory+swap limit: sandboxes never swap
  uint64_t pids_max = 0;
  double cpus = 0;  // CPU bandwidth in CPUs: 1.5 = 150 ms per 100 ms period
  // The cgroup of one run, which ends when its init (pid 1 of the sandbox) is reaped, and with
  // it every process of the sandbox. On v1 it then needs no freezer hierarchy: kill_all has
  // nothing to freeze. That saves a mkdir and an rmdir of the run's critical path (about 0.08 ms).
  // (cpuacct stays: init's rusage would miss the processes the kernel reaps when the pid
  // namespace ends, and the program itself when a timeout kills init.) A session's cgroup, which
  // outlives its runs, keeps the freezer.
  bool one_run = false;
};

struct CgroupUsage {
  uint64_t memory_peak_bytes = 0;
  bool memory_is_peak = true;  // false: memory.current (cgroup v2 before Linux 5.19), not a peak
  bool cpu_measured = false;   // false: no CPU accounting in this cgroup (the two below are 0)
  uint64_t cpu_user_usec = 0;
  uint64_t cpu_system_usec = 0;
  bool oom_killed = false;     // the kernel's OOM killer killed a process of this cgroup
  uint64_t oom_kills = 0;      // how many times (0 where the kernel does not count them)
  uint64_t pids_max_hits = 0;  // forks refused at pids.max (pids.events "max")
};

// One sandbox's cgroup (one directory per hierarchy on v1). The destructor kills everything left in
// it and removes its directories (a clean slot is given back instead); it never throws and logs
// teardown failures with spdlog::warn.
class Cgroup {
 public:
  virtual ~Cgroup() = default;
  Cgroup() = default;
  Cgroup(const Cgroup&) = delete;
  Cgroup& operator=(const Cgroup&) = delete;

  // The directory name: isol8-<owner pid>-<name>, or a slot's slot-<n>-<id>.
  virtual const std::string& name() const = 0;
  // The cgroup's directories (one per distinct v1 hierarchy, one on v2, none on "none").
  virtual std::vector<std::filesystem::path> directories() const = 0;
  // Moves a process (all its threads) into the cgroup. v1: every hierarchy's cgroup.procs.
  virtual Result<void> add_process(pid_t pid) = 0;
  // v2: an O_DIRECTORY fd of the cgroup for clone3's CLONE_INTO_CGROUP (owned by this object).
  // -1 when the child must be moved with add_process instead (v1, none).
  virtual int clone_into_fd() const = 0;
  // v1: the `tasks` file of each hierarchy's cgroup, open for writing, for a new single-threaded
  // child to move itself with by writing "0" (the kernel takes its global threadgroup lock,
  // whose write side waits for an RCU grace period, only when a task moves another one or a
  // whole thread group: 10-70 ms under load, on every run). Permission is checked against the
  // opener's credentials, so the child needs no privilege. Empty on v2 and "none".
  virtual Result<std::vector<UniqueFd>> open_self_join_files() { return std::vector<UniqueFd>{}; }
  // SIGKILLs every process in the cgroup and waits until it is empty. v2: cgroup.kill; v1: freeze,
  // SIGKILL each pid, thaw. "none": nothing to do (the caller kills the pid namespace's init).
  virtual Result<void> kill_all() = 0;
  virtual Result<CgroupUsage> usage() const = 0;
  // The limits really applied: any of "memory", "pids", "cpu".
  virtual std::vector<std::string> enforced() const = 0;
  // kill_all(), then removes the directories. Idempotent; the destructor calls it. Use it to see
  // teardown errors instead of having them logged.
  virtual Result<void> destroy() = 0;
  // Gives the cgroup to a kept sandbox (Options::persist) whose init is `owner`: renames its
  // directories isol8-<owner>-kept-<name> and lets them go, so that neither this object's
  // destructor nor a later runner's reclaim_stale removes them while `owner` lives; once it is
  // dead, reclaim_stale does. Its processes keep running. Nothing changes on error.
  virtual Result<void> hand_over(pid_t owner) = 0;
};

// The file-system steps that differ between cgroupfs and a test's temp-dir imitation of it. On
// cgroupfs the kernel creates control files on mkdir and removes them on rmdir; a fake does that
// itself. Each returns 0 or an errno value.
struct CgroupFsOps {
  std::function<int(const std::filesystem::path&)> make_dir;
  std::function<int(const std::filesystem::path&)> remove_dir;
};
// mkdir(2) with mode 0755 and rmdir(2).
CgroupFsOps real_cgroup_fs_ops();

// Where to look for cgroup hierarchies: every cgroup2 and cgroup (v1) mount listed in `mountinfo`.
struct CgroupRoots {
  std::filesystem::path mountinfo = "/proc/self/mountinfo";
  CgroupFsOps ops = real_cgroup_fs_ops();
  // How long kill_all() waits for the cgroup to empty before it reports an error.
  std::chrono::milliseconds kill_timeout{2000};
  // Reused cgroups for one-run sandboxes (v1): create() with CgroupLimits::one_run takes the
  // first free one of `slot_count` "slot-<n>" cgroups, locked and recorded in `slot_dir`, and
  // gives it back clean instead of removing it. A cgroup's creation and removal are a tenth of
  // a one-shot run's time on v1. 0: every cgroup is made and removed for its run.
  uint32_t slot_count = 0;
  std::filesystem::path slot_dir = "/run/isol8/cgroup";
  // The slots' directory names: <prefix><n>. Slots with their own `slot_dir` need their own
  // prefix too (tests), or two locks would guard the same cgroups.
  std::string slot_prefix = "slot-";
};

class CgroupManager {
 public:
  virtual ~CgroupManager() = default;

  // "v2", "v1" or "none".
  virtual const char* kind() const = 0;
  // Creates isol8-<getpid()>-<name> and writes the limits (or, for a one-run cgroup when the
  // roots allow slots and one is free, hands out a reused slot-<n> with these limits). `name` is
  // the caller's unique id for the sandbox ([A-Za-z0-9._-], at most 64 characters). On error
  // nothing is left behind (but a slot, which its next holder makes anew).
  virtual Result<std::unique_ptr<Cgroup>> create(const std::string& name,
                                                 const CgroupLimits& limits) = 0;
  // Whether reclaim_stale may find something, checked more cheaply than by reclaiming: v1 lists
  // only the hierarchy where a cgroup is made first and removed last.
  virtual bool may_have_stale() { return true; }
  // Why a controller (or all of them, for "none") cannot be used; empty when all work.
  virtual std::vector<std::string> unavailable_reasons() const = 0;
  // Kills and removes every isol8-<pid>-* cgroup whose owner pid is no longer alive. Returns how
  // many were removed; an error lists the ones that could not be (the others are still removed).
  virtual Result<std::size_t> reclaim_stale() = 0;
  // The directory names of the kept sandboxes' cgroups (Cgroup::hand_over) whose owner lives.
  virtual Result<std::vector<std::string>> list_kept() = 0;
  // Kills everything in one of them (so its init, and with it the sandbox) and removes it.
  virtual Result<void> remove_kept(const std::string& name) = 0;
  // Removes the cgroups of the reusable slots (CgroupRoots::slot_count) that no run holds;
  // returns how many slots had some. Managers without slots have none.
  virtual Result<std::size_t> remove_idle_slots() { return std::size_t{0}; }
};

// v2 when the cgroup2 mount has memory, pids and cpu in cgroup.controllers and is writable; else
// v1 when the memory, pids, cpu and freezer hierarchies are mounted and writable; else none (whose
// unavailable_reasons() say why). Never fails.
std::unique_ptr<CgroupManager> detect_cgroup_manager(const CgroupRoots& roots = {});

// A manager that applies nothing, e.g. when cgroups are turned off; `reasons` are reported as
// unavailable_reasons().
std::unique_ptr<CgroupManager> make_none_cgroup_manager(std::vector<std::string> reasons);

}  // namespace isol8
