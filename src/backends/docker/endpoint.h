#pragma once
// Where the Docker daemon listens: DOCKER_HOST (or an explicit URL) parsed into a Unix socket
// path or a TCP host and port. Pure, unit-tested.

#include <cstdint>
#include <string>
#include <string_view>

#include "isol8/result.h"

namespace isol8::docker {

inline constexpr std::string_view kDefaultDockerSocket = "/var/run/docker.sock";

struct Endpoint {
  enum class Kind { kUnix, kTcp };
  Kind kind = Kind::kUnix;
  std::string path;  // kUnix
  std::string host;  // kTcp
  uint16_t port = 0;
  // For messages: "/var/run/docker.sock" or "tcp://host:port".
  std::string display() const;
};

// unix:///path, /path, tcp://host:port (port default 2375), http://host:port. An empty string
// means the default socket. tls (https://, DOCKER_TLS_VERIFY) is refused with a clear error.
Result<Endpoint> parse_docker_host(std::string_view url);

// DOCKER_HOST from the environment, else the default socket.
Result<Endpoint> endpoint_from_environment();

}  // namespace isol8::docker
