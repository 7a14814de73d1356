#pragma once
// Step 2 of the spawn sequence: everything the child needs, computed and owned by the parent.

#include <sys/capability.h>

#include <memory>
#include <string>
#include <vector>

#include "backends/backend.h"
#include "common/sandbox_user.h"
#include "namespaces/child_spec.h"
#include "namespaces/id_map.h"
#include "namespaces/mount_plan.h"
#include "seccomp/compiler.h"

namespace isol8 {

struct NativeSettings {
  IdMapPlan id_maps;  // decided once per backend from who runs it (see id_map.h)
  // The runner's argv and environ strings (arg_start..env_end), which init wipes in its copy.
  char* runner_args_begin = nullptr;
  size_t runner_args_size = 0;
  std::string hostname = "isol8";
};

// What the network adds to a run: the filtered mode's plumbing, or a namespace made ahead.
struct SpawnExtras {
  std::vector<std::string> env;  // KEY=VALUE, appended to the spec's environment
  // The parent puts the child in a network namespace it prepared (loopback up, and for the
  // filtered mode a veth and a route; for --net none one made ahead, network/netns_slot.h),
  // owned by the runner's user namespace, so the sandbox cannot change it: no CLONE_NEWNET.
  bool netns_from_parent = false;
  // The runner waits for the sandbox's root to be built before it makes the next network
  // namespace of its slot (network/netns_slot.h): init reports it.
  bool report_mounted = false;
  // The relay mode: a loopback-only namespace of the sandbox's own, in which init starts
  // isol8-relay on 127.0.0.1:relay_port (see child_spec.h). Descriptors stay the caller's.
  int relay_exe_fd = -1;
  int proxy_socket_fd = -1;
  uint16_t relay_port = 0;
};

struct CapFree {
  void operator()(cap_t caps) const { cap_free(caps); }
};

class SpawnPlan {
 public:
  // `seccomp` (may be null) and `spec` must outlive the plan.
  static Result<std::unique_ptr<SpawnPlan>> create(const RunSpec& spec,
                                                   const NativeSettings& settings,
                                                   const SeccompProgram* seccomp,
                                                   const SpawnExtras& extras = {});

  // The namespaces to create with clone3.
  uint64_t clone_flags() const { return clone_flags_; }
  // Whether the child must start in a network namespace the parent prepared (it gets none of
  // its own, and must not share the host's).
  bool needs_parent_netns() const { return needs_parent_netns_; }
  const IdMapPlan& id_maps() const { return id_maps_; }
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
  std::vector<ChildFile> files_;  // views into the RunSpec's files, which outlive the run
  // The setup phase's commands (RunSpec::setup_commands, then the setup script under bash).
  struct SetupStorage {
    std::vector<std::string> argv;
    std::vector<std::string> env;
    std::vector<char*> argv_pointers;
    std::vector<char*> env_pointers;
  };
  std::vector<SetupStorage> setup_storage_;
  std::vector<SetupStep> setup_steps_;
  std::vector<std::string> relay_argv_storage_;
  std::vector<char*> relay_argv_;
  std::unique_ptr<std::remove_pointer_t<cap_t>, CapFree> empty_caps_;
  uint64_t clone_flags_ = 0;
  bool needs_parent_netns_ = false;
  IdMapPlan id_maps_;
  ChildSpec child_;
};

}  // namespace isol8
