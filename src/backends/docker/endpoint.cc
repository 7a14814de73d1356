#include "backends/docker/endpoint.h"

#include <charconv>
#include <cstdlib>

#include <fmt/format.h>

namespace isol8::docker {

std::string Endpoint::display() const {
  if (kind == Kind::kUnix) return path;
  return fmt::format("tcp://{}:{}", host, port);
}

Result<Endpoint> parse_docker_host(std::string_view url) {
  Endpoint ep;
  if (url.empty()) {
    ep.path = std::string(kDefaultDockerSocket);
    return ep;
  }
  auto invalid = [&](std::string_view why) {
    return make_error(fmt::format("Invalid Docker host \"{}\": {}", url, why));
  };
  if (url.starts_with("unix://") || url.starts_with("/")) {
    ep.path = std::string(url.starts_with("/") ? url : url.substr(7));
    if (ep.path.empty() || ep.path.front() != '/') return invalid("expected unix:///absolute/path");
    return ep;
  }
  std::string_view rest;
  if (url.starts_with("tcp://")) {
    rest = url.substr(6);
  } else if (url.starts_with("http://")) {
    rest = url.substr(7);
  } else if (url.starts_with("https://")) {
    return invalid("TLS connections to the daemon are not supported; use unix:// or tcp://");
  } else {
    return invalid("expected unix://<path> or tcp://<host>:<port>");
  }
  while (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
  if (rest.find('/') != std::string_view::npos) return invalid("a path after host:port");
  std::string_view host = rest;
  std::string_view port_text;
  if (rest.starts_with("[")) {  // [v6]:port
    const auto close = rest.find(']');
    if (close == std::string_view::npos) return invalid("unterminated [ipv6] address");
    host = rest.substr(1, close - 1);
    const auto after = rest.substr(close + 1);
    if (!after.empty()) {
      if (!after.starts_with(":")) return invalid("expected :port after ]");
      port_text = after.substr(1);
    }
  } else if (const auto colon = rest.rfind(':'); colon != std::string_view::npos) {
    host = rest.substr(0, colon);
    port_text = rest.substr(colon + 1);
  }
  if (host.empty()) return invalid("no host");
  unsigned port = 2375;
  if (!port_text.empty()) {
    auto [ptr, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
    if (ec != std::errc() || ptr != port_text.data() + port_text.size() || port == 0 ||
        port > 65535) {
      return invalid("the port must be a number from 1 to 65535");
    }
  }
  ep.kind = Endpoint::Kind::kTcp;
  ep.host = std::string(host);
  ep.port = static_cast<uint16_t>(port);
  return ep;
}

Result<Endpoint> endpoint_from_environment() {
  const char* host = std::getenv("DOCKER_HOST");
  if (const char* tls = std::getenv("DOCKER_TLS_VERIFY"); tls != nullptr && *tls != '\0') {
    return make_error(
        "DOCKER_TLS_VERIFY is set, but TLS connections to the daemon are not supported; use "
        "unix:// or plain tcp://");
  }
  return parse_docker_host(host == nullptr ? "" : host);
}

}  // namespace isol8::docker
