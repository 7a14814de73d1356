// Reused one-run cgroups on v1: "slot-<n>-<id>" under the isol8 parent of each hierarchy a
// one-run cgroup uses (memory, pids, cpu, cpuacct), <id> naming the lock file that guards it
// (slot_record.h). Making and removing a v1 cgroup costs a mkdir and an rmdir per hierarchy, each
// creating or removing dozens of control files: a tenth of a one-shot run. A slot is made once,
// then handed from run to run.
//
// What makes a slot safe to hand on. A run gives its slot back "ready" only when, read at that
// moment,
//   - no process is left in it (init was reaped, so its pid namespace, the whole sandbox, is
//     gone, and nothing outside can enter a cgroup whose files only root may write);
//   - it counted no OOM kill and no fork refused at pids.max, so the next run starts from zero
//     on those counters, which v1 cannot reset;
// and its limits are recorded, so that the next run rewrites only the ones that differ. When a
// slot is taken, its memory peak is reset (to the memory still charged from earlier runs: page
// cache of files they read first stays charged to the cgroup that read it) and its CPU time is
// taken as a baseline; usage is reported relative to both. A slot still charged with more than
// kMaxChargedAtStart, and anything unexpected (an error, a process left, a runner killed
// mid-run, a record that is not "ready"), makes the slot's cgroups anew.

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <set>

#include "cgroups/cgroup_impl.h"
#include "cgroups/cgroup_parse.h"
#include "cgroups/slot_record.h"
#include "common/trace.h"

namespace isol8::cgroups {
namespace {

namespace fs = std::filesystem;

// <prefix><n>-<the record's identity>.
std::string slot_dir_name(const CgroupRoots& roots, const SlotRecord& record) {
  return roots.slot_prefix + std::to_string(record.index()) + "-" + record.identity();
}

// The index of a directory named <prefix><n>-<identity>.
std::optional<uint32_t> slot_index(const CgroupRoots& roots, std::string_view name) {
  if (!name.starts_with(roots.slot_prefix)) return std::nullopt;
  name.remove_prefix(roots.slot_prefix.size());
  const size_t dash = name.find('-');
  if (dash == 0 || dash == std::string_view::npos || dash > 6) return std::nullopt;
  uint32_t index = 0;
  for (char c : name.substr(0, dash)) {
    if (c < '0' || c > '9') return std::nullopt;
    index = index * 10 + static_cast<uint32_t>(c - '0');
  }
  return index;
}

// A slot still charged with more memory than this (page cache that earlier runs read first) is
// made anew, which hands the charge to the parent: a run's peak is its charge over the slot's at
// the start, which misses whatever of that the kernel reclaims during the run.
constexpr uint64_t kMaxChargedAtStart = 32ull << 20;

// What the counters held when the slot was taken: usage is reported relative to it.
struct Baseline {
  uint64_t memory_bytes = 0;
  uint64_t cpu_user_usec = 0;
  uint64_t cpu_system_usec = 0;
};

// A slot's directories: one per distinct hierarchy (co-mounted controllers share one).
struct SlotDirs {
  V1Dirs by_controller;
  std::vector<fs::path> unique;
};

SlotDirs slot_dirs(const V1Dirs& mounts, const CgroupRoots& roots, const SlotRecord& record) {
  SlotDirs dirs;
  for (const auto& [controller, mount] : mounts) {
    fs::path dir = mount / kParentDir / slot_dir_name(roots, record);
    if (std::find(dirs.unique.begin(), dirs.unique.end(), dir) == dirs.unique.end()) {
      dirs.unique.push_back(dir);
    }
    dirs.by_controller[controller] = std::move(dir);
  }
  return dirs;
}

std::vector<fs::path> procs_files(const std::vector<fs::path>& dirs) {
  std::vector<fs::path> files;
  for (const fs::path& dir : dirs) files.push_back(dir / "cgroup.procs");
  return files;
}

// Kills whatever is in the slot's cgroups and removes them (missing ones are fine).
Result<void> remove_slot_dirs(const std::vector<fs::path>& dirs, const CgroupRoots& roots) {
  ISOL8_TRY(kill_until_empty(procs_files(dirs), roots.kill_timeout));
  for (auto it = dirs.rbegin(); it != dirs.rend(); ++it) ISOL8_TRY(remove_dir(roots.ops, *it));
  return ok();
}

class V1SlotCgroup final : public Cgroup {
 public:
  V1SlotCgroup(SlotRecord record, SlotDirs dirs, AppliedLimits limits, Baseline baseline,
               std::vector<UniqueFd> join_files, const CgroupRoots& roots)
      : name_(slot_dir_name(roots, record)),
        record_(std::move(record)),
        dirs_(std::move(dirs)),
        limits_(limits),
        baseline_(baseline),
        join_files_(std::move(join_files)),
        roots_(roots) {}
  ~V1SlotCgroup() override {
    if (auto r = destroy(); !r) spdlog::warn("cgroup {}: {}", name_, r.error().message);
  }

  const std::string& name() const override { return name_; }
  std::vector<fs::path> directories() const override {
    if (released_) return {};
    return dirs_.unique;
  }
  Result<void> add_process(pid_t pid) override {
    for (const fs::path& dir : dirs_.unique) {
      ISOL8_TRY(write_control(dir / "cgroup.procs", std::to_string(pid)));
    }
    return ok();
  }
  int clone_into_fd() const override { return -1; }
  // Opened when the slot was taken (which showed that its directories are there).
  Result<std::vector<UniqueFd>> open_self_join_files() override {
    if (!join_files_.empty()) return std::exchange(join_files_, {});
    return open_tasks_files(dirs_.unique);
  }
  std::vector<std::string> enforced() const override { return enforced_names(limits_); }
  // No freezer: a one-run cgroup's processes end with its init.
  Result<void> kill_all() override {
    if (released_) return ok();
    return kill_until_empty(procs_files(dirs_.unique), roots_.kill_timeout);
  }

  Result<CgroupUsage> usage() const override {
    auto read = read_v1_usage(dirs_.by_controller);
    if (!read) return read;
    CgroupUsage u = *read;
    u.memory_peak_bytes -= std::min(u.memory_peak_bytes, baseline_.memory_bytes);
    u.cpu_user_usec -= std::min(u.cpu_user_usec, baseline_.cpu_user_usec);
    u.cpu_system_usec -= std::min(u.cpu_system_usec, baseline_.cpu_system_usec);
    return u;
  }

  // Back to the pool when clean (see the top of this file), else removed. Either way the slot's
  // lock is released here, not when this object goes.
  Result<void> destroy() override {
    if (released_) return ok();
    released_ = true;
    join_files_.clear();
    if (clean()) {
      if (auto marked = record_->mark_ready(limits_); marked) {
        record_.reset();
        trace::mark("cgroup v1: slot given back");
        return ok();
      } else {
        spdlog::debug("cgroup {}: {}", name_, marked.error().message);
      }
    }
    auto removed = remove_slot_dirs(dirs_.unique, roots_);
    record_.reset();
    trace::mark("cgroup v1: slot removed");
    return removed;
  }

  Result<void> hand_over(pid_t) override {
    return make_error("cgroup " + name_ + " is a one-run cgroup and cannot be kept");
  }

 private:
  // Empty (every process of a sandbox is in all of its hierarchies: one cgroup.procs tells), and
  // its counters that v1 cannot reset still at zero: no OOM kill, no fork refused.
  bool clean() const {
    auto pids = read_procs(dirs_.unique.front() / "cgroup.procs");
    if (!pids || !pids->empty()) return false;
    CgroupUsage u;
    return read_v1_counters(dirs_.by_controller, u) && u.oom_kills == 0 && !u.oom_killed &&
           u.pids_max_hits == 0;
  }

  std::string name_;
  std::optional<SlotRecord> record_;  // holds the slot's lock until destroy()
  SlotDirs dirs_;
  AppliedLimits limits_;
  Baseline baseline_;
  std::vector<UniqueFd> join_files_;  // handed out once by open_self_join_files
  CgroupRoots roots_;
  bool released_ = false;
};

// A ready slot for the next run: its directories are there (their tasks files open), its limits
// are `want`, and its memory peak and CPU baseline are taken. An error: make it anew.
Result<void> reuse(const SlotDirs& dirs, const AppliedLimits& have, const AppliedLimits& want,
                   Baseline& baseline, std::vector<UniqueFd>& join_files) {
  auto opened = open_tasks_files(dirs.unique);
  if (!opened) return std::move(opened).error();
  join_files = std::move(opened).value();
  ISOL8_TRY(write_v1_limits(dirs.by_controller, want, have));
  if (auto memory = dirs.by_controller.find("memory"); memory != dirs.by_controller.end()) {
    // Writing resets the peak to what is charged now.
    ISOL8_TRY(write_control(memory->second / "memory.max_usage_in_bytes", "0"));
    auto charged = read_u64(memory->second / "memory.max_usage_in_bytes");
    if (!charged) return std::move(charged).error();
    if (*charged > kMaxChargedAtStart) {
      return Error{EBUSY, std::to_string(*charged >> 20) + " MB still charged"};
    }
    baseline.memory_bytes = *charged;
  }
  if (dirs.by_controller.count("cpuacct")) {
    auto usage = read_v1_usage({{"cpuacct", dirs.by_controller.at("cpuacct")}});
    if (!usage) return std::move(usage).error();
    baseline.cpu_user_usec = usage->cpu_user_usec;
    baseline.cpu_system_usec = usage->cpu_system_usec;
  }
  return ok();
}

Result<std::unique_ptr<Cgroup>> prepare(SlotRecord record, const V1Dirs& mounts,
                                        const CgroupRoots& roots, const CgroupLimits& limits) {
  const std::optional<AppliedLimits> have = record.ready();
  ISOL8_TRY(record.mark_busy());
  SlotDirs dirs = slot_dirs(mounts, roots, record);
  const AppliedLimits want = applied_limits(limits);
  Baseline baseline;
  std::vector<UniqueFd> join_files;
  if (have) {
    auto reused = reuse(dirs, *have, want, baseline, join_files);
    if (reused) {
      return std::unique_ptr<Cgroup>(std::make_unique<V1SlotCgroup>(
          std::move(record), std::move(dirs), want, baseline, std::move(join_files), roots));
    }
    spdlog::debug("cgroup slot {}: {}; making it anew", record.index(), reused.error().message);
    join_files.clear();
    baseline = {};
  }
  // Unknown state (new, or left by a runner killed mid-run, or not reusable): anew.
  ISOL8_TRY(remove_slot_dirs(dirs.unique, roots));
  for (const fs::path& dir : dirs.unique) ISOL8_TRY(make_sandbox_dir(roots.ops, dir));
  ISOL8_TRY(write_v1_limits(dirs.by_controller, want, AppliedLimits{}));
  return std::unique_ptr<Cgroup>(std::make_unique<V1SlotCgroup>(
      std::move(record), std::move(dirs), want, baseline, std::move(join_files), roots));
}

}  // namespace

Result<std::unique_ptr<Cgroup>> claim_v1_slot(const V1Dirs& mounts, const CgroupRoots& roots,
                                              const CgroupLimits& limits) {
  // In order from 0, so that runs one after another keep reusing the same slot, and a host
  // has only as many slots as it ran sandboxes at once.
  for (uint32_t index = 0; index < roots.slot_count; ++index) {
    auto taken = SlotRecord::take(roots.slot_dir, index);
    if (!taken) return std::move(taken).error();
    if (!*taken) continue;
    auto prepared = prepare(std::move(**taken), mounts, roots, limits);
    if (prepared) return prepared;
    // Left "busy" for its next holder to make anew; this run tries the next slot.
    spdlog::debug("cannot prepare cgroup slot {}: {}", index, prepared.error().message);
  }
  return std::unique_ptr<Cgroup>();
}

Result<std::size_t> remove_idle_v1_slots(const V1Dirs& mounts, const CgroupRoots& roots) {
  std::set<uint32_t> indices;
  for (const auto& [controller, mount] : mounts) {
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(mount / kParentDir, ec)) {
      if (auto index = slot_index(roots, entry.path().filename().string())) {
        indices.insert(*index);
      }
    }
  }
  std::size_t removed = 0;
  std::string failures;
  for (uint32_t index : indices) {
    auto taken = SlotRecord::take(roots.slot_dir, index);
    if (!taken) return std::move(taken).error();
    if (!*taken) continue;  // a run holds it
    SlotDirs dirs = slot_dirs(mounts, roots, **taken);
    if (std::none_of(dirs.unique.begin(), dirs.unique.end(), file_exists)) continue;
    // Not ready any more, whatever happens next: a later holder makes the cgroups anew.
    ISOL8_TRY((*taken)->mark_busy());
    if (auto r = remove_slot_dirs(dirs.unique, roots); r) {
      ++removed;
    } else {
      failures += (failures.empty() ? "" : "; ") + r.error().message;
    }
  }
  if (!failures.empty()) return Error{EBUSY, "cannot remove idle cgroup slots: " + failures};
  return removed;
}

}  // namespace isol8::cgroups
