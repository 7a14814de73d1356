#include "namespaces/child_report.h"

namespace isol8 {

const char* child_step_name(ChildStep step) {
  switch (step) {
    case ChildStep::kJoinCgroup:
      return "moving into the sandbox's cgroup";
    case ChildStep::kWaitForParent:
      return "waiting for the parent";
    case ChildStep::kUnshareCgroup:
      return "creating the cgroup namespace";
    case ChildStep::kMountPrivate:
      return "making mounts private";
    case ChildStep::kMountBind:
      return "bind-mounting a host directory";
    case ChildStep::kMountRemount:
      return "remounting a bind read-only";
    case ChildStep::kMountTmpfs:
      return "mounting a tmpfs";
    case ChildStep::kMountProc:
      return "mounting /proc";
    case ChildStep::kMkdir:
      return "creating a mount point";
    case ChildStep::kSymlink:
      return "creating a symlink";
    case ChildStep::kWriteFile:
      return "writing a file of the new root";
    case ChildStep::kPivotRoot:
      return "pivot_root";
    case ChildStep::kDetachOldRoot:
      return "detaching the old root";
    case ChildStep::kRemountRootReadOnly:
      return "making the root read-only";
    case ChildStep::kSetHostname:
      return "setting the hostname";
    case ChildStep::kLoopbackUp:
      return "bringing up loopback";
    case ChildStep::kSetRlimit:
      return "setting resource limits";
    case ChildStep::kDropBoundingSet:
      return "dropping the capability bounding set";
    case ChildStep::kSetSecurebits:
      return "locking securebits";
    case ChildStep::kSetGroups:
      return "setgroups";
    case ChildStep::kSetGid:
      return "setresgid";
    case ChildStep::kSetUid:
      return "setresuid";
    case ChildStep::kClearCapabilities:
      return "clearing capabilities";
    case ChildStep::kNoNewPrivs:
      return "setting no_new_privs";
    case ChildStep::kSeccomp:
      return "loading the seccomp filter";
    case ChildStep::kWorkdir:
      return "entering the working directory";
    case ChildStep::kWriteCode:
      return "writing the code file";
    case ChildStep::kInjectFile:
      return "writing an injected file";
    case ChildStep::kFork:
      return "forking the program";
    case ChildStep::kExec:
      return "executing the program";
    case ChildStep::kStartRelay:
      return "starting the network relay";
    case ChildStep::kSessionExec:
      return "starting the execution in the session";
    case ChildStep::kSessionOpen:
      return "opening the file in the session";
    case ChildStep::kCount:
      break;
  }
  return "unknown step";
}

}  // namespace isol8
