// cgroup v1: one directory <mount>/isol8/isol8-<pid>-<name> per hierarchy among memory, pids, cpu,
// cpuacct and freezer (the cgroup of one run: no freezer). Co-mounted controllers (cpu,cpuacct)
// share one directory.

#include <signal.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <set>

#include "cgroups/cgroup_fs.h"
#include "cgroups/cgroup_impl.h"
#include "cgroups/cgroup_parse.h"
#include "common/scope_exit.h"
#include "common/trace.h"

namespace isol8::cgroups {
namespace {

namespace fs = std::filesystem;
using DirMap = V1Dirs;

constexpr const char* kRequired[] = {"memory", "pids", "cpu", "freezer"};
constexpr const char* kUsed[] = {"memory", "pids", "cpu", "cpuacct", "freezer"};

// Whether no process is in any of the files (a missing file counts as empty: already removed).
bool all_empty(const std::vector<fs::path>& procs_files) {
  for (const fs::path& file : procs_files) {
    auto pids = read_procs(file);
    if (!pids ? pids.error().code != ENOENT : !pids->empty()) return false;
  }
  return true;
}

class V1Cgroup final : public Cgroup {
 public:
  V1Cgroup(std::string name, DirMap dirs, std::vector<std::string> enforced,
           const CgroupRoots& roots)
      : name_(std::move(name)),
        dirs_(std::move(dirs)),
        enforced_(std::move(enforced)),
        ops_(roots.ops),
        kill_timeout_(roots.kill_timeout) {
    for (const auto& [controller, dir] : dirs_) {
      if (std::find(unique_.begin(), unique_.end(), dir) == unique_.end()) unique_.push_back(dir);
    }
  }
  ~V1Cgroup() override {
    if (auto r = destroy(); !r) spdlog::warn("cgroup {}: {}", name_, r.error().message);
  }

  const std::string& name() const override { return name_; }
  std::vector<fs::path> directories() const override {
    if (destroyed_) return {};
    return unique_;
  }
  Result<void> add_process(pid_t pid) override {
    for (const fs::path& dir : unique_) {
      ISOL8_TRY(write_control(dir / "cgroup.procs", std::to_string(pid)));
    }
    return ok();
  }
  int clone_into_fd() const override { return -1; }
  Result<std::vector<UniqueFd>> open_self_join_files() override {
    return open_tasks_files(unique_);
  }
  std::vector<std::string> enforced() const override { return enforced_; }

  // Freezing first stops forks and exits, so the pids read from cgroup.procs cannot be reused
  // before the SIGKILL lands; a frozen task dies once thawed.
  Result<void> kill_all() override {
    if (destroyed_) return ok();
    std::vector<fs::path> procs;
    for (const fs::path& dir : unique_) procs.push_back(dir / "cgroup.procs");
    // The usual case after a run: init was reaped, so its pid namespace, and every process of
    // the sandbox, is gone. No process can enter our cgroups from outside, so empty stays empty
    // and there is nothing to freeze (freezing and thawing cost a quarter of a millisecond).
    if (all_empty(procs)) return ok();
    std::optional<Error> thaw_error;
    if (auto freezer = dirs_.find("freezer"); freezer != dirs_.end()) {
      fs::path state = freezer->second / "freezer.state";
      if (write_control(state, "FROZEN")) {
        poll_until(kill_timeout_ / 2, [&] {
          auto s = read_control(state);
          return !s || has_word(*s, "FROZEN");
        });
        for (const fs::path& file : procs) {
          auto pids = read_procs(file);
          if (!pids) continue;  // kill_until_empty reports it
          for (pid_t pid : *pids) ::kill(pid, SIGKILL);
        }
        if (auto r = write_control(state, "THAWED"); !r) thaw_error = std::move(r).error();
      }
    }
    ISOL8_TRY(kill_until_empty(procs, kill_timeout_));
    if (thaw_error) return std::move(*thaw_error);
    return ok();
  }

  Result<CgroupUsage> usage() const override { return read_v1_usage(dirs_); }

  Result<void> destroy() override {
    if (destroyed_) return ok();
    // Removal first: the kernel refuses to remove a cgroup that has processes (EBUSY), and every
    // process of a sandbox is in all of its hierarchies, so one successful rmdir shows that all
    // are empty, as after every run (its processes died with its pid namespace). Only a refusal
    // needs kill_all's reads and kills.
    Result<void> killed = ok();
    const int first = unique_.empty() ? 0 : ops_.remove_dir(unique_.back());
    const bool emptied = first == 0 || first == ENOENT;
    if (!emptied) killed = kill_all();
    std::optional<Error> remove_error = remove_all();
    if (remove_error && emptied) {
      // Not as empty as it looked (a process in only some of the hierarchies): kill, then again.
      killed = kill_all();
      remove_error = remove_all();
    }
    destroyed_ = true;
    trace::mark("cgroup v1: emptied and removed");
    if (!killed) return std::move(killed).error();
    if (remove_error) return std::move(*remove_error);
    return ok();
  }

  // Every hierarchy's directory is renamed, or (on error) none is.
  Result<void> hand_over(pid_t owner) override {
    if (destroyed_) return make_error("cgroup " + name_ + " is already removed");
    const std::string kept = kept_dir_name(owner, name_);
    std::vector<fs::path> renamed;
    for (const fs::path& dir : unique_) {
      if (auto r = rename_dir(dir, dir.parent_path() / kept); !r) {
        for (const fs::path& done : renamed) (void)rename_dir(done.parent_path() / kept, done);
        return r;
      }
      renamed.push_back(dir);
    }
    for (auto& [controller, dir] : dirs_) dir = dir.parent_path() / kept;
    for (fs::path& dir : unique_) dir = dir.parent_path() / kept;
    name_ = kept;
    destroyed_ = true;  // not ours any more: the destructor leaves it
    return ok();
  }

 private:
  std::optional<Error> remove_all() {
    std::optional<Error> error;
    for (auto it = unique_.rbegin(); it != unique_.rend(); ++it) {
      if (auto r = remove_dir(ops_, *it); !r && !error) error = std::move(r).error();
    }
    return error;
  }

  std::string name_;
  DirMap dirs_;
  std::vector<fs::path> unique_;  // one per hierarchy
  std::vector<std::string> enforced_;
  CgroupFsOps ops_;
  std::chrono::milliseconds kill_timeout_;
  bool destroyed_ = false;
};

class V1Manager final : public CgroupManager {
 public:
  V1Manager(DirMap mounts, CgroupRoots roots, std::vector<std::string> notes)
      : roots_(std::move(roots)), notes_(std::move(notes)) {
    for (const char* c : kUsed) {
      if (auto m = mounts.find(c); m != mounts.end()) mounts_[c] = m->second;
    }
  }

  const char* kind() const override { return "v1"; }
  std::vector<std::string> unavailable_reasons() const override { return notes_; }

  Result<std::unique_ptr<Cgroup>> create(const std::string& name,
                                         const CgroupLimits& limits) override {
    ISOL8_TRY(validate_name(name));
    if (limits.one_run && roots_.slot_count > 0) {
      auto slot = claim_v1_slot(one_run_mounts(), roots_, limits);
      if (slot && *slot) return std::move(slot).value();
      // Still correct, only slower: this run makes a cgroup of its own.
      if (!slot) spdlog::debug("cgroup slots: {}", slot.error().message);
    }
    std::string dn = dir_name(::getpid(), name);
    auto made = create_in(dn, limits);
    if (!made) return std::move(made).error().context("cannot set up cgroup " + dn);
    return std::move(made).value();
  }

  // A cgroup is made in its hierarchies in this map's order and removed in the reverse order, so
  // whatever a dead runner left has a directory in the first one.
  bool may_have_stale() override {
    if (mounts_.empty()) return false;
    auto dirs = list_owned_dirs(mounts_.begin()->second);
    if (!dirs) return true;  // reclaim_stale reports it
    return std::any_of(dirs->begin(), dirs->end(), [](const fs::path& dir) {
      return !pid_alive(*owner_pid(dir.filename().string()));
    });
  }

  Result<std::size_t> reclaim_stale() override {
    std::map<std::string, DirMap> stale;  // name -> its directories
    for (const auto& [controller, mount] : mounts_) {
      auto dirs = list_owned_dirs(mount);
      if (!dirs) return std::move(dirs).error();
      for (const fs::path& dir : *dirs) {
        std::string name = dir.filename().string();
        if (!pid_alive(*owner_pid(name))) stale[name][controller] = dir;
      }
    }
    std::size_t reclaimed = 0;
    std::string failures;
    for (auto& [name, dirs] : stale) {
      V1Cgroup cgroup(name, std::move(dirs), {}, roots_);
      if (auto r = cgroup.destroy(); r) {
        ++reclaimed;
      } else {
        failures += (failures.empty() ? "" : "; ") + r.error().message;
      }
    }
    if (!failures.empty()) return Error{EBUSY, "cannot reclaim stale cgroups: " + failures};
    return reclaimed;
  }

  Result<std::size_t> remove_idle_slots() override {
    return remove_idle_v1_slots(one_run_mounts(), roots_);
  }

  Result<std::vector<std::string>> list_kept() override {
    std::set<std::string> kept;
    for (const auto& [controller, mount] : mounts_) {
      auto dirs = list_owned_dirs(mount);
      if (!dirs) return std::move(dirs).error();
      for (const fs::path& dir : *dirs) {
        const std::string name = dir.filename().string();
        if (is_kept_dir_name(name) && pid_alive(*owner_pid(name))) kept.insert(name);
      }
    }
    return std::vector<std::string>(kept.begin(), kept.end());
  }

  Result<void> remove_kept(const std::string& name) override {
    ISOL8_TRY(validate_name(name));
    if (!is_kept_dir_name(name)) return make_error(name + " is not a kept sandbox's cgroup");
    DirMap dirs;
    for (const auto& [controller, mount] : mounts_) {
      const fs::path dir = mount / kParentDir / name;
      if (file_exists(dir)) dirs[controller] = dir;
    }
    V1Cgroup kept(name, std::move(dirs), {}, roots_);
    return kept.destroy();
  }

 private:
  // The hierarchies of a one-run cgroup: all but the freezer's (see CgroupLimits::one_run).
  DirMap one_run_mounts() const {
    DirMap mounts = mounts_;
    mounts.erase("freezer");
    return mounts;
  }

  Result<std::unique_ptr<Cgroup>> create_in(const std::string& dn, const CgroupLimits& limits) {
    DirMap dirs;
    std::vector<fs::path> created;
    ScopeExit undo([&] { remove_dirs_logged(roots_.ops, created); });
    for (const auto& [controller, mount] : mounts_) {
      // A one-run cgroup needs no freezer (where the freezer is co-mounted with another controller,
      // the directory is made for that one, and is just not frozen).
      if (limits.one_run && controller == "freezer") continue;
      fs::path dir = mount / kParentDir / dn;
      if (std::find(created.begin(), created.end(), dir) == created.end()) {
        ISOL8_TRY(make_sandbox_dir(roots_.ops, dir));
        created.push_back(dir);
      }
      dirs[controller] = dir;
    }

    // A new cgroup has no limits.
    const AppliedLimits wanted = applied_limits(limits);
    ISOL8_TRY(write_v1_limits(dirs, wanted, AppliedLimits{}));
    std::vector<std::string> enforced = enforced_names(wanted);

    undo.dismiss();
    return std::unique_ptr<Cgroup>(
        std::make_unique<V1Cgroup>(dn, std::move(dirs), std::move(enforced), roots_));
  }

  DirMap mounts_;  // only the controllers in kUsed
  CgroupRoots roots_;
  std::vector<std::string> notes_;
};

}  // namespace

Result<void> probe_v1(const DirMap& mounts, std::vector<std::string>* notes) {
  std::string missing;
  for (const char* c : kRequired) {
    auto m = mounts.find(c);
    if (m == mounts.end()) {
      missing += std::string(missing.empty() ? "" : " ") + c;
    } else if (::access(m->second.c_str(), W_OK) != 0) {
      return errno_error("the v1 " + std::string(c) + " hierarchy at " + m->second.string() +
                         " is not writable");
    }
  }
  if (!missing.empty()) return Error{ENOTSUP, "no v1 hierarchy for: " + missing};
  if (!mounts.count("cpuacct")) {
    notes->push_back(
        "cgroup v1 cpuacct is not mounted: CPU usage is only what the sandbox's init "
        "reaped itself (0 in sessions)");
  }
  if (!file_exists(mounts.at("memory") / "memory.memsw.limit_in_bytes")) {
    notes->push_back(
        "cgroup v1 memory has no memory.memsw.limit_in_bytes (no swap accounting): "
        "swap is not limited");
  }
  return ok();
}

std::unique_ptr<CgroupManager> make_v1_manager(DirMap mounts, const CgroupRoots& roots,
                                               std::vector<std::string> notes) {
  return std::make_unique<V1Manager>(std::move(mounts), roots, std::move(notes));
}

}  // namespace isol8::cgroups
