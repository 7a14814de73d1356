#include "namespaces/id_map.h"

#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <optional>
#include <sstream>
#include <vector>

#include <fmt/format.h>

#include "common/fs_util.h"

extern char** environ;

namespace isol8 {
namespace {

Result<void> run_setuid_helper(const std::string& helper, pid_t pid, const IdMapping& m) {
  std::vector<std::string> args = {helper, std::to_string(pid), std::to_string(m.inside),
                                   std::to_string(m.outside), std::to_string(m.count)};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t child = 0;
  if (int rc = ::posix_spawn(&child, helper.c_str(), nullptr, nullptr, argv.data(), environ);
      rc != 0) {
    return errno_error("cannot run " + helper, rc);
  }
  int status = 0;
  while (::waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return make_error(fmt::format("{} {} {} {} {} failed (status {})", helper, pid, m.inside,
                                  m.outside, m.count, status));
  }
  return ok();
}

}  // namespace

std::optional<IdMapping> find_subordinate_range(const std::string& text, const std::string& name,
                                                uint32_t id, uint32_t needed) {
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    const auto a = line.find(':');
    const auto b = line.find(':', a == std::string::npos ? a : a + 1);
    if (a == std::string::npos || b == std::string::npos) continue;
    const std::string who = line.substr(0, a);
    if (who != name && who != std::to_string(id)) continue;
    try {
      const unsigned long start = std::stoul(line.substr(a + 1, b - a - 1));
      const unsigned long count = std::stoul(line.substr(b + 1));
      if (count >= needed && start <= UINT32_MAX - needed) {
        return IdMapping{0, static_cast<uint32_t>(start), needed};
      }
    } catch (const std::exception&) {
      continue;  // a malformed line grants nothing
    }
  }
  return std::nullopt;
}

IdMapPlan plan_id_maps(uint32_t privileged_base, uid_t euid, gid_t egid,
                       const std::string& user_name, uint32_t sandbox_uid, uint32_t sandbox_gid,
                       const SubIdFiles& files) {
  IdMapPlan plan;
  if (euid == 0) {
    plan.mode = IdMapMode::kPrivileged;
    plan.uids = {0, privileged_base, kIdRangeSize};
    plan.gids = {0, privileged_base, kIdRangeSize};
    return plan;
  }
  const bool helpers =
      ::access(files.newuidmap.c_str(), X_OK) == 0 && ::access(files.newgidmap.c_str(), X_OK) == 0;
  auto subuid = read_file(files.subuid);
  auto subgid = read_file(files.subgid);
  if (helpers && subuid && subgid) {
    auto u = find_subordinate_range(*subuid, user_name, euid, kIdRangeSize);
    auto g = find_subordinate_range(*subgid, user_name, egid, kIdRangeSize);
    if (u && g) {
      plan.mode = IdMapMode::kSubordinate;
      plan.uids = *u;
      plan.gids = *g;
      return plan;
    }
  }
  plan.mode = IdMapMode::kSingle;
  plan.uids = {sandbox_uid, static_cast<uint32_t>(euid), 1};
  plan.gids = {sandbox_gid, static_cast<uint32_t>(egid), 1};
  return plan;
}

Result<void> apply_id_maps(pid_t pid, const IdMapPlan& plan, const SubIdFiles& files) {
  if (plan.mode == IdMapMode::kSubordinate) {
    ISOL8_TRY(run_setuid_helper(files.newuidmap, pid, plan.uids));
    ISOL8_TRY(run_setuid_helper(files.newgidmap, pid, plan.gids));
    return ok();
  }
  const std::string proc = fmt::format("/proc/{}/", pid);
  const auto& u = plan.uids;
  const auto& g = plan.gids;
  ISOL8_TRY(write_file(proc + "uid_map", fmt::format("{} {} {}\n", u.inside, u.outside, u.count)));
  if (plan.mode == IdMapMode::kSingle) ISOL8_TRY(write_file(proc + "setgroups", "deny"));
  ISOL8_TRY(write_file(proc + "gid_map", fmt::format("{} {} {}\n", g.inside, g.outside, g.count)));
  return ok();
}

}  // namespace isol8
