#include "backends/docker/daemon_check.h"

#include <sys/socket.h>
#include <sys/un.h>

#include <algorithm>
#include <cstdlib>

#include <fmt/format.h>

#include "common/unique_fd.h"

namespace isol8::docker {

Check check_daemon() {
  using Level = Check::Level;
  std::string socket_path = "/var/run/docker.sock";
  if (const char* host = std::getenv("DOCKER_HOST"); host != nullptr) {
    const std::string h = host;
    if (!h.starts_with("unix://")) {
      return {Level::kInfo, "docker", "DOCKER_HOST=" + h + " (not checked)"};
    }
    socket_path = h.substr(7);
  }
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  struct sockaddr_un addr {};
  addr.sun_family = AF_UNIX;
  if (socket_path.size() >= sizeof addr.sun_path) {
    return {Level::kInfo, "docker", "socket path too long: " + socket_path};
  }
  std::copy(socket_path.begin(), socket_path.end(), addr.sun_path);
  if (!fd || ::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    return {
        Level::kInfo, "docker",
        fmt::format("no daemon answers at {} (the native backend does not need one)", socket_path)};
  }
  return {Level::kOk, "docker", "a daemon listens at " + socket_path};
}

}  // namespace isol8::docker
