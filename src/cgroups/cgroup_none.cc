// The "none" manager: no cgroup at all. Limits are not applied (enforced() is empty), so the caller
// must say so loudly; killing relies on the pid namespace's init.

#include <unistd.h>

#include "cgroups/cgroup_fs.h"
#include "cgroups/cgroup_manager.h"

namespace isol8 {
namespace {

class NoneCgroup final : public Cgroup {
 public:
  explicit NoneCgroup(std::string name) : name_(std::move(name)) {}
  const std::string& name() const override { return name_; }
  std::vector<std::filesystem::path> directories() const override { return {}; }
  Result<void> add_process(pid_t) override { return ok(); }
  int clone_into_fd() const override { return -1; }
  Result<void> kill_all() override { return ok(); }
  Result<CgroupUsage> usage() const override { return CgroupUsage{}; }
  std::vector<std::string> enforced() const override { return {}; }
  Result<void> destroy() override { return ok(); }
  Result<void> hand_over(pid_t) override { return ok(); }  // nothing to keep or find later

 private:
  std::string name_;
};

class NoneManager final : public CgroupManager {
 public:
  explicit NoneManager(std::vector<std::string> reasons) : reasons_(std::move(reasons)) {}
  const char* kind() const override { return "none"; }
  std::vector<std::string> unavailable_reasons() const override { return reasons_; }
  Result<std::unique_ptr<Cgroup>> create(const std::string& name, const CgroupLimits&) override {
    ISOL8_TRY(cgroups::validate_name(name));
    return std::unique_ptr<Cgroup>(
        std::make_unique<NoneCgroup>(cgroups::dir_name(::getpid(), name)));
  }
  Result<std::size_t> reclaim_stale() override { return std::size_t{0}; }
  Result<std::vector<std::string>> list_kept() override { return std::vector<std::string>{}; }
  Result<void> remove_kept(const std::string& name) override {
    return make_error("no cgroup named " + name + " (cgroups are not used on this host)");
  }

 private:
  std::vector<std::string> reasons_;
};

}  // namespace

std::unique_ptr<CgroupManager> make_none_cgroup_manager(std::vector<std::string> reasons) {
  return std::make_unique<NoneManager>(std::move(reasons));
}

}  // namespace isol8
