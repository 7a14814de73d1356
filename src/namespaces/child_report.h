#pragma once
// The messages a sandbox child sends its parent over the SOCK_SEQPACKET sync socket. Plain structs
// of integers: the child writes them without allocating.

#include <cstdint>

namespace isol8 {

// Every step of the child's setup that can fail, in the order the child runs them.
enum class ChildStep : uint32_t {
  kJoinCgroup,
  kWaitForParent,
  kUnshareCgroup,
  kMountPrivate,
  kMountBind,
  kMountRemount,
  kMountTmpfs,
  kMountProc,
  kMkdir,
  kSymlink,
  kWriteFile,
  kPivotRoot,
  kDetachOldRoot,
  kRemountRootReadOnly,
  kSetHostname,
  kLoopbackUp,
  kSetRlimit,
  kDropBoundingSet,
  kSetSecurebits,
  kSetGroups,
  kSetGid,
  kSetUid,
  kClearCapabilities,
  kNoNewPrivs,
  kSeccomp,
  kWorkdir,
  kWriteCode,
  kFork,
  kExec,
  kInjectFile,
  kStartRelay,
  kSessionExec,  // a session's init or keeper receiving or starting one execution
  kSessionOpen,  // a session's init opening a file for transfer
  kCount,
};

const char* child_step_name(ChildStep step);

struct ChildMessage {
  // kSetupExited carries the wait status of one setup step (its index in `step`); kExited the
  // program's. The session kinds (session_protocol.h): kReady, kExecutionEnded (wait_status: the
  // keeper's; max_rss_kb: the largest resident size among the execution's reaped processes),
  // kOpened (error: 0 and a descriptor, or the errno that refused the file).
  enum Kind : uint32_t {
    kFailure = 1,
    kExited = 2,
    kSetupExited = 3,
    kReady = 4,
    kExecutionEnded = 5,
    kOpened = 6,
    kDetached = 7,  // error: 0, or the errno that refused kDetach
    kMounted = 8,   // the root is built (its pivot_root done), when ChildSpec::report_mounted
  };
  uint32_t kind = 0;
  uint32_t step = 0;        // ChildStep, for kFailure; the setup step's index for kSetupExited
  int32_t error = 0;        // errno, for kFailure and kOpened
  int32_t wait_status = 0;  // the program's wait status, for kExited
  int64_t max_rss_kb = 0;   // kExecutionEnded
};

}  // namespace isol8
