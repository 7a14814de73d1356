#pragma once
// The runner side of a filtered container: a private directory (0700) with the filtering proxy's
// Unix socket, which is bind-mounted into the container together with the relay. The proxy stops
// and the directory goes when this is destroyed (after the container is removed). Named after
// this process (common/pid_dirs.h), so that the next backend removes it if this one is killed.

#include <memory>
#include <string>
#include <vector>

#include "backends/backend.h"
#include "backends/docker/container_spec.h"

namespace isol8::proxy {
class FilteringProxy;
}

namespace isol8::docker {

class FilteredSide {
 public:
  static Result<std::unique_ptr<FilteredSide>> start(const RunSpec& spec);
  ~FilteredSide();
  FilteredSide(const FilteredSide&) = delete;
  FilteredSide& operator=(const FilteredSide&) = delete;

  const FilteredMounts& mounts() const { return mounts_; }

  // The log entries of the requests finished so far. `close_open`: end the connections still
  // open first, so that they are logged too (the end of a one-shot run; a session keeps the
  // tunnels of its background processes, which are logged by the execution during which they
  // close).
  std::vector<NetworkLogEntry> take_logs(bool close_open = true);

 private:
  explicit FilteredSide(std::string dir);
  std::string dir_;
  std::unique_ptr<proxy::FilteringProxy> proxy_;
  FilteredMounts mounts_;
};

}  // namespace isol8::docker
