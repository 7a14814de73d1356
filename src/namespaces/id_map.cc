#include "namespaces/id_map.h"

#include <fmt/format.h>

#include "common/fs_util.h"

namespace isol8 {

Result<void> write_id_maps(pid_t pid, const IdMapping& uids, const IdMapping& gids,
                           bool deny_setgroups) {
  const std::string proc = fmt::format("/proc/{}/", pid);
  ISOL8_TRY(write_file(proc + "uid_map",
                       fmt::format("{} {} {}\n", uids.inside, uids.outside, uids.count)));
  if (deny_setgroups) ISOL8_TRY(write_file(proc + "setgroups", "deny"));
  ISOL8_TRY(write_file(proc + "gid_map",
                       fmt::format("{} {} {}\n", gids.inside, gids.outside, gids.count)));
  return ok();
}

}  // namespace isol8
