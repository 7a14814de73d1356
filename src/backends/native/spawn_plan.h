#pragma once
// Step 2 of the spawn sequence: everything the child needs, computed and owned by the parent.

#include <sys/capability.h>

#include <memory>
#include <string>
#include <vector>

#include "backends/backend.h"
#include "namespaces/child_spec.h"
#include "namespaces/id_map.h"
#include "namespaces/mount_plan.h"

namespace isol8 {

struct NativeSettings {
  uint32_t id_map_base = 1000000;  // inside id N is host id id_map_base + N
  uint32_t id_map_count = 65536;
  std::string hostname = "isol8";
};

struct CapFree {
  void operator()(cap_t caps) const { cap_free(caps); }
};

class SpawnPlan {
 public:
  static Result<std::unique_ptr<SpawnPlan>> create(const RunSpec& spec,
                                                   const NativeSettings& settings);

  // The namespaces to create with clone3.
  uint64_t clone_flags() const { return clone_flags_; }
  IdMapping uid_map() const { return uid_map_; }
  IdMapping gid_map() const { return gid_map_; }
  // The child's view; the fd fields are filled in by the caller.
  ChildSpec& child() { return child_; }

 private:
  SpawnPlan() = default;

  MountPlan mounts_;
  std::vector<std::string> argv_storage_;
  std::vector<std::string> env_storage_;
  std::vector<char*> argv_;
  std::vector<char*> envp_;
  std::string workdir_;
  std::string hostname_;
  std::string code_path_;
  std::unique_ptr<std::remove_pointer_t<cap_t>, CapFree> empty_caps_;
  uint64_t clone_flags_ = 0;
  IdMapping uid_map_;
  IdMapping gid_map_;
  ChildSpec child_;
};

}  // namespace isol8
