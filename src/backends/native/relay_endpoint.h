#pragma once
// The runner's side of the filtered network's relay mode (no veth, so no CAP_NET_ADMIN needed):
// a private directory ($TMPDIR/isol8-relay-<pid>-XXXXXX, 0700, the runner's own) in which the
// filtering proxy listens on a Unix socket, and O_PATH descriptors of that socket and of
// isol8-relay that the sandbox's init inherits. The sandbox reaches both through the descriptors,
// never through the directory, so its ids (a subordinate range, or the caller's own) need no right
// on it; the socket itself is 0666 (the proxy's default), which is what lets the sandbox user
// connect. Destroying the endpoint removes the directory, on every path.

#include <memory>
#include <string>

#include "common/unique_fd.h"
#include "isol8/result.h"

namespace isol8 {

class RelayEndpoint {
 public:
  // The relay's port inside the sandbox (upstream's proxy port).
  static constexpr uint16_t kPort = 8118;

  // Finds isol8-relay (common/companion_binaries.h) and makes the directory, named
  // isol8-relay-<runner pid>-XXXXXX so that a later runner can tell a dead one's.
  static Result<std::unique_ptr<RelayEndpoint>> create();
  // Removes the directories that SIGKILLed runners of this user left in $TMPDIR (their proxy
  // died with them); returns how many.
  static size_t reclaim_stale();
  ~RelayEndpoint();
  RelayEndpoint(const RelayEndpoint&) = delete;
  RelayEndpoint& operator=(const RelayEndpoint&) = delete;

  // Where the proxy must listen.
  const std::string& socket_path() const { return socket_path_; }
  // Opens the socket's descriptor, once the proxy listens there.
  Result<void> open_socket();

  int relay_exe_fd() const { return relay_exe_.get(); }
  int socket_fd() const { return socket_.get(); }

 private:
  explicit RelayEndpoint(std::string dir) : dir_(std::move(dir)) {}

  std::string dir_;
  std::string socket_path_;
  UniqueFd relay_exe_;
  UniqueFd socket_;
};

}  // namespace isol8
