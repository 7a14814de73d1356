#pragma once
// The managers behind detect_cgroup_manager(), for detection and tests.

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "cgroups/cgroup_manager.h"

namespace isol8::cgroups {

// Checks that the cgroup2 hierarchy at `root` can host sandboxes; the error says why not.
Result<void> probe_v2(const std::filesystem::path& root);
std::unique_ptr<CgroupManager> make_v2_manager(std::filesystem::path root,
                                               const CgroupRoots& roots);

// Checks that memory, pids, cpu and freezer are mounted and writable; `notes` gains what works
// only partly (no cpuacct, no memsw).
Result<void> probe_v1(const std::map<std::string, std::filesystem::path>& mounts,
                      std::vector<std::string>* notes);
std::unique_ptr<CgroupManager> make_v1_manager(std::map<std::string, std::filesystem::path> mounts,
                                               const CgroupRoots& roots,
                                               std::vector<std::string> notes);

}  // namespace isol8::cgroups
