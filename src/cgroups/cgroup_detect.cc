// detect_cgroup_manager(): v2 if it has the controllers, else v1, else none with the reasons.

#include "cgroups/cgroup_fs.h"
#include "cgroups/cgroup_impl.h"
#include "cgroups/cgroup_manager.h"
#include "cgroups/cgroup_parse.h"

namespace isol8 {

std::unique_ptr<CgroupManager> detect_cgroup_manager(const CgroupRoots& roots) {
  std::vector<std::string> reasons;
  auto mountinfo = cgroups::read_control(roots.mountinfo);
  if (!mountinfo) {
    reasons.push_back("cannot find cgroup mounts: " + mountinfo.error().message);
    return make_none_cgroup_manager(std::move(reasons));
  }
  cgroups::CgroupMounts mounts = cgroups::parse_cgroup_mounts(*mountinfo);

  if (!mounts.unified) {
    reasons.push_back("cgroup v2: not mounted");
  } else if (auto v2 = cgroups::probe_v2(*mounts.unified); !v2) {
    reasons.push_back("cgroup v2: " + v2.error().message);
  } else {
    return cgroups::make_v2_manager(*mounts.unified, roots);
  }

  std::vector<std::string> notes;
  if (auto v1 = cgroups::probe_v1(mounts.v1, &notes); !v1) {
    reasons.push_back("cgroup v1: " + v1.error().message);
    return make_none_cgroup_manager(std::move(reasons));
  }
  return cgroups::make_v1_manager(std::move(mounts.v1), roots, std::move(notes));
}

}  // namespace isol8
