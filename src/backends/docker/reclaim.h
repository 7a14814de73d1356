#pragma once
// What SIGKILLed runners leave behind, removed by the next docker backend:
//   - containers whose kOwnerLabel names a process of this boot and pid namespace that is
//     provably gone (common/process_owner.h, owner_is_dead): a one-shot container whose program
//     still runs with no runner to enforce its time limit, an exited one that nobody removes, a
//     dead library's pooled containers. Force-removed (killed first when running).
//   - the filtered runs' proxy directories $TMPDIR/isol8-proxy-<pid>-XXXXXX of dead pids.
// Never a container without the label, or of another machine (a daemon behind tcp://), another
// pid namespace (a runner inside another container) or a live owner.
//
// StaleReclaimer does it on a thread of its own, joined by its destructor, so that a run does not
// wait for the daemon's container list (the CLI's cold path); failures are warnings, never the
// run's.

#include <cstddef>
#include <memory>
#include <optional>
#include <thread>

#include "backends/docker/client.h"
#include "common/process_owner.h"

namespace isol8::docker {

// The name prefix of FilteredSide's directories: <prefix><runner pid>-XXXXXX (common/pid_dirs.h).
inline constexpr const char* kProxyDirPrefix = "isol8-proxy-";

// Lists the isol8 containers that carry an owner label and force-removes those of dead owners;
// returns how many were removed. A failed removal is a warning (the next runner tries again).
Result<size_t> remove_dead_owners_containers(DockerClient& client, const ProcessOwner& self);

class StaleReclaimer {
 public:
  // Starts the thread. Without `self` (this process's owner id unknown) only directories go.
  StaleReclaimer(std::shared_ptr<DockerClient> client, std::optional<ProcessOwner> self);
  ~StaleReclaimer();
  StaleReclaimer(const StaleReclaimer&) = delete;
  StaleReclaimer& operator=(const StaleReclaimer&) = delete;

 private:
  std::thread thread_;
};

}  // namespace isol8::docker
