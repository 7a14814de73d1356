// cgroup v2: one directory <root>/isol8/isol8-<pid>-<name> with memory, pids and cpu enabled by
// the subtree_control of the root and of the isol8 parent.

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include "cgroups/cgroup_fs.h"
#include "cgroups/cgroup_impl.h"
#include "cgroups/cgroup_parse.h"
#include "common/scope_exit.h"
#include "common/unique_fd.h"

namespace isol8::cgroups {
namespace {

namespace fs = std::filesystem;

constexpr const char* kControllers[] = {"memory", "pids", "cpu"};

// Enables the controllers that `dir`'s cgroup.subtree_control lacks (no write when none does, so
// an already delegated tree needs no write access).
Result<void> enable_controllers(const fs::path& dir) {
  fs::path file = dir / "cgroup.subtree_control";
  auto current = read_control(file);
  if (!current) return std::move(current).error();
  std::string wanted;
  for (const char* c : kControllers) {
    if (!has_word(*current, c)) wanted += std::string(wanted.empty() ? "+" : " +") + c;
  }
  if (wanted.empty()) return ok();
  return write_control(file, wanted);
}

class V2Cgroup final : public Cgroup {
 public:
  V2Cgroup(fs::path dir, UniqueFd dir_fd, std::vector<std::string> enforced,
           const CgroupRoots& roots)
      : name_(dir.filename().string()),
        dir_(std::move(dir)),
        dir_fd_(std::move(dir_fd)),
        enforced_(std::move(enforced)),
        ops_(roots.ops),
        kill_timeout_(roots.kill_timeout) {}
  ~V2Cgroup() override {
    if (auto r = destroy(); !r) spdlog::warn("cgroup {}: {}", name_, r.error().message);
  }

  const std::string& name() const override { return name_; }
  std::vector<fs::path> directories() const override {
    if (destroyed_) return {};
    return {dir_};
  }
  Result<void> add_process(pid_t pid) override {
    return write_control(dir_ / "cgroup.procs", std::to_string(pid));
  }
  int clone_into_fd() const override { return dir_fd_.get(); }
  std::vector<std::string> enforced() const override { return enforced_; }

  Result<void> kill_all() override {
    if (destroyed_) return ok();
    if (!file_exists(dir_ / "cgroup.kill")) {  // before Linux 5.14
      return kill_until_empty({dir_ / "cgroup.procs"}, kill_timeout_);
    }
    ISOL8_TRY(write_control(dir_ / "cgroup.kill", "1"));
    // cgroup.kill also reaches nested cgroups, so wait on "populated", not on cgroup.procs.
    std::optional<Error> failure;
    bool empty = poll_until(kill_timeout_, [&] {
      auto events = read_control(dir_ / "cgroup.events");
      if (!events) {
        failure = std::move(events).error();
        return true;
      }
      return parse_keyed(*events)["populated"] == 0;
    });
    if (failure) return std::move(*failure);
    if (!empty) {
      return Error{EBUSY, dir_.string() + " is still populated " +
                              std::to_string(kill_timeout_.count()) + " ms after cgroup.kill"};
    }
    return ok();
  }

  Result<CgroupUsage> usage() const override {
    CgroupUsage u;
    fs::path peak = dir_ / "memory.peak";  // Linux 5.19+
    u.memory_is_peak = file_exists(peak);
    auto memory = read_u64(u.memory_is_peak ? peak : dir_ / "memory.current");
    if (!memory) return std::move(memory).error();
    u.memory_peak_bytes = *memory;
    auto cpu = read_control(dir_ / "cpu.stat");
    if (!cpu) return std::move(cpu).error();
    auto cpu_stat = parse_keyed(*cpu);
    u.cpu_measured = true;
    u.cpu_user_usec = cpu_stat["user_usec"];
    u.cpu_system_usec = cpu_stat["system_usec"];
    auto events = read_control(dir_ / "memory.events");
    if (!events) return std::move(events).error();
    u.oom_kills = parse_keyed(*events)["oom_kill"];
    u.oom_killed = u.oom_kills > 0;
    if (const fs::path pids_events = dir_ / "pids.events"; file_exists(pids_events)) {
      auto pids = read_control(pids_events);
      if (!pids) return std::move(pids).error();
      u.pids_max_hits = parse_keyed(*pids)["max"];
    }
    return u;
  }

  Result<void> destroy() override {
    if (destroyed_) return ok();
    auto killed = kill_all();
    dir_fd_.reset();
    auto removed = remove_dir(ops_, dir_);
    destroyed_ = true;
    if (!killed) return std::move(killed).error();
    return removed;
  }

  Result<void> hand_over(pid_t owner) override {
    if (destroyed_) return make_error("cgroup " + name_ + " is already removed");
    const fs::path kept = dir_.parent_path() / kept_dir_name(owner, name_);
    ISOL8_TRY(rename_dir(dir_, kept));
    dir_ = kept;
    name_ = kept.filename().string();
    dir_fd_.reset();
    destroyed_ = true;  // not ours any more: the destructor leaves it
    return ok();
  }

 private:
  std::string name_;
  fs::path dir_;
  UniqueFd dir_fd_;
  std::vector<std::string> enforced_;
  CgroupFsOps ops_;
  std::chrono::milliseconds kill_timeout_;
  bool destroyed_ = false;
};

class V2Manager final : public CgroupManager {
 public:
  V2Manager(fs::path root, CgroupRoots roots) : root_(std::move(root)), roots_(std::move(roots)) {}

  const char* kind() const override { return "v2"; }
  std::vector<std::string> unavailable_reasons() const override { return {}; }

  Result<std::unique_ptr<Cgroup>> create(const std::string& name,
                                         const CgroupLimits& limits) override {
    ISOL8_TRY(validate_name(name));
    fs::path dir = root_ / kParentDir / dir_name(::getpid(), name);
    auto made = create_in(dir, limits);
    if (!made) return std::move(made).error().context("cannot set up cgroup " + dir.string());
    return std::move(made).value();
  }

  Result<std::size_t> reclaim_stale() override {
    auto dirs = list_owned_dirs(root_);
    if (!dirs) return std::move(dirs).error();
    std::size_t reclaimed = 0;
    std::string failures;
    for (const fs::path& dir : *dirs) {
      if (pid_alive(*owner_pid(dir.filename().string()))) continue;
      V2Cgroup stale(dir, UniqueFd(), {}, roots_);
      if (auto r = stale.destroy(); r) {
        ++reclaimed;
      } else {
        failures += (failures.empty() ? "" : "; ") + r.error().message;
      }
    }
    if (!failures.empty()) return Error{EBUSY, "cannot reclaim stale cgroups: " + failures};
    return reclaimed;
  }

  Result<std::vector<std::string>> list_kept() override {
    auto dirs = list_owned_dirs(root_);
    if (!dirs) return std::move(dirs).error();
    std::vector<std::string> kept;
    for (const fs::path& dir : *dirs) {
      const std::string name = dir.filename().string();
      if (is_kept_dir_name(name) && pid_alive(*owner_pid(name))) kept.push_back(name);
    }
    return kept;
  }

  Result<void> remove_kept(const std::string& name) override {
    ISOL8_TRY(validate_name(name));
    if (!is_kept_dir_name(name)) return make_error(name + " is not a kept sandbox's cgroup");
    V2Cgroup kept(root_ / kParentDir / name, UniqueFd(), {}, roots_);
    return kept.destroy();
  }

 private:
  Result<std::unique_ptr<Cgroup>> create_in(const fs::path& dir, const CgroupLimits& limits) {
    ISOL8_TRY(enable_controllers(root_));
    ISOL8_TRY(make_dir(roots_.ops, dir.parent_path(), /*may_exist=*/true));
    ISOL8_TRY(enable_controllers(dir.parent_path()));
    ISOL8_TRY(make_dir(roots_.ops, dir, /*may_exist=*/false));
    ScopeExit undo([&] { remove_dirs_logged(roots_.ops, {dir}); });

    std::vector<std::string> enforced;
    if (limits.memory_bytes > 0) {
      ISOL8_TRY(write_control(dir / "memory.max", std::to_string(limits.memory_bytes)));
      if (file_exists(dir / "memory.swap.max")) {  // absent without swap accounting
        ISOL8_TRY(write_control(dir / "memory.swap.max", "0"));
      }
      // One OOM kill takes the whole sandbox: a program that lost a process to the OOM killer
      // must not run on half-dead (the run ends with status oom either way).
      if (file_exists(dir / "memory.oom.group")) {
        ISOL8_TRY(write_control(dir / "memory.oom.group", "1"));
      }
      enforced.push_back("memory");
    }
    if (limits.pids_max > 0) {
      ISOL8_TRY(write_control(dir / "pids.max", std::to_string(limits.pids_max)));
      enforced.push_back("pids");
    }
    if (limits.cpus > 0) {
      std::string cpu_max =
          std::to_string(cpu_quota_usec(limits.cpus)) + " " + std::to_string(kCpuPeriodUsec);
      ISOL8_TRY(write_control(dir / "cpu.max", cpu_max));
      enforced.push_back("cpu");
    }
    UniqueFd dir_fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!dir_fd) return errno_error("cannot open " + dir.string());

    undo.dismiss();
    return std::unique_ptr<Cgroup>(
        std::make_unique<V2Cgroup>(dir, std::move(dir_fd), std::move(enforced), roots_));
  }

  fs::path root_;
  CgroupRoots roots_;
};

}  // namespace

Result<void> probe_v2(const fs::path& root) {
  auto controllers = read_control(root / "cgroup.controllers");
  if (!controllers) return std::move(controllers).error();
  std::string missing;
  for (const char* c : kControllers) {
    if (!has_word(*controllers, c)) missing += std::string(missing.empty() ? "" : " ") + c;
  }
  if (!missing.empty()) {
    return Error{ENOTSUP, (root / "cgroup.controllers").string() + " lacks " + missing +
                              " (bound to cgroup v1 hierarchies, or not delegated)"};
  }
  if (::access(root.c_str(), W_OK) != 0) return errno_error(root.string() + " is not writable");
  return ok();
}

std::unique_ptr<CgroupManager> make_v2_manager(fs::path root, const CgroupRoots& roots) {
  return std::make_unique<V2Manager>(std::move(root), roots);
}

}  // namespace isol8::cgroups
