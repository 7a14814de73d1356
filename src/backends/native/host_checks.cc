#include "backends/native/host_checks.h"

#include <pwd.h>
#include <unistd.h>

#include <fmt/format.h>

#include "backends/native/spawn_plan.h"
#include "cgroups/cgroup_manager.h"
#include "common/fs_util.h"
#include "namespaces/id_map.h"
#include "seccomp/policy.h"

namespace isol8 {
namespace {

using Level = Check::Level;

Check id_map_check(uint32_t id_map_base) {
  std::string name;
  if (struct passwd* pw = ::getpwuid(::geteuid()); pw != nullptr) name = pw->pw_name;
  const IdMapPlan plan =
      plan_id_maps(id_map_base, ::geteuid(), ::getegid(), name, kSandboxUid, kSandboxGid);
  switch (plan.mode) {
    case IdMapMode::kPrivileged:
      return {Level::kOk, "id mapping",
              fmt::format("root: sandbox uid 100 is host uid {} (a range of 65536 unused ids)",
                          plan.uids.outside + 100)};
    case IdMapMode::kSubordinate:
      return {Level::kOk, "id mapping",
              fmt::format("rootless with /etc/subuid range {}+{} (newuidmap)", plan.uids.outside,
                          plan.uids.count)};
    case IdMapMode::kSingle:
      return {Level::kInfo, "id mapping",
              "rootless with a single id (no /etc/subuid range for this user): the sandbox user "
              "is your own uid, and setgroups is denied"};
  }
  return {};
}

Check cgroup_check() {
  auto manager = detect_cgroup_manager();
  const std::string kind = manager->kind();
  std::string reasons;
  for (const auto& r : manager->unavailable_reasons()) reasons += (reasons.empty() ? "" : "; ") + r;
  if (kind == "none") {
    return {Level::kWarn, "cgroups",
            "none usable: memory, cpu and pids limits are NOT enforced (" + reasons + ")"};
  }
  return {reasons.empty() ? Level::kOk : Level::kWarn, "cgroups",
          kind + ": memory, pids and cpu limits enforced" +
              (reasons.empty() ? "" : " (" + reasons + ")")};
}

Check seccomp_check() {
  auto actions = read_file("/proc/sys/kernel/seccomp/actions_avail");
  if (!actions) return {Level::kFail, "seccomp", "the kernel has no seccomp filter support"};
  auto program = load_seccomp_policy(SeccompMode::kStrict, {}, {});
  if (!program) return {Level::kFail, "seccomp", program.error().message};
  return {Level::kOk, "seccomp",
          fmt::format("default profile compiles to {} BPF instructions; kernel actions: {}",
                      (*program)->size(), trim_trailing_space(*actions))};
}

}  // namespace

std::vector<Check> check_native_host(uint32_t id_map_base) {
  return {id_map_check(id_map_base), cgroup_check(), seccomp_check()};
}

}  // namespace isol8
