#pragma once
// The mount plan: a pure description of the sandbox's filesystem, built in the parent from the
// options and executed later, step by step, in the child (bubblewrap's model). Keeping it pure
// makes it unit-testable and keeps every allocation out of the child.

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "common/sandbox_user.h"

namespace isol8 {

enum class MountOpKind {
  kBindReadOnly,  // bind `source` (host path) onto `target`, then make it read-only
  kBind,          // bind `source` onto the empty file `target`, keeping the source's flags (the
                  // device nodes, made read-only with their /dev by a kReadOnlyTree; the /proc
                  // masks, bound from that read-only /dev/null)
  kTmpfs,         // mount a tmpfs on `target` with `flags` and `data`
  kProc,          // mount a fresh procfs on `target`
  kMkdir,         // create directory `target` (mode `mode`)
  kSymlink,       // create symlink `target` -> `source`
  kWriteFile,     // create file `target` with `content` (mode `mode`)
  kReadOnlyTree,  // make the mount at `target` and the mounts below it (listed in `below`, for
                  // kernels that can only do one at a time) read-only, adding `flags` (MS_NOSUID,
                  // MS_NODEV, MS_NOEXEC) and keeping their others
};

struct MountOp {
  MountOpKind kind;
  std::string source;
  std::string target;  // absolute path in the host view, under the staging root
  unsigned long flags = 0;
  std::string data;                // tmpfs options
  std::string content;             // kWriteFile
  std::vector<std::string> below;  // kReadOnlyTree
  mode_t mode = 0755;
};

struct MountPlanInput {
  std::string root_dir;  // empty: assemble a root from the host's system directories
  uint64_t sandbox_size_bytes = 512ull << 20;
  uint64_t tmp_size_bytes = 256ull << 20;
  uint32_t sandbox_uid = kSandboxUid;
  uint32_t sandbox_gid = kSandboxGid;
  std::string hostname = "isol8";
  bool host_network = false;
  std::string host_resolv_conf;  // used in host network mode
  // The host directories to expose read-only in host mode, each either a directory or a symlink
  // (merged /usr); the builder looks at the real host unless tests pass their own view.
  std::vector<std::string> host_system_dirs = {"/usr",   "/bin",   "/sbin",  "/lib",
                                               "/lib64", "/lib32", "/libx32"};
  std::string host_prefix;  // tests point this at a fake host tree; "" in production
};

struct MountPlan {
  std::string stage;  // where the new root is assembled before pivot_root
  std::vector<MountOp> ops;
};

// The directory, in the child's private mount namespace, on which the new root is assembled.
inline constexpr const char* kStageDir = "/tmp";

MountPlan build_mount_plan(const MountPlanInput& input);

}  // namespace isol8
