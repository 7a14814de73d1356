#include "common/server_url.h"

#include <charconv>

#include <fmt/format.h>

namespace isol8 {
namespace {

Error bad_url(std::string_view text, std::string_view why) {
  return make_error(fmt::format(
      "Invalid server URL \"{}\": {} (expected http://host[:port] or https://host[:port])", text,
      why));
}

bool valid_port(std::string_view port) {
  unsigned value = 0;
  const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  return !port.empty() && ec == std::errc() && end == port.data() + port.size() && value >= 1 &&
         value <= 65535;
}

}  // namespace

std::string ServerUrl::host_header() const {
  const std::string name = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  const bool default_port = port == (tls ? "443" : "80");
  return default_port ? name : name + ":" + port;
}

std::string ServerUrl::canonical() const {
  return std::string(tls ? "https://" : "http://") + host_header() + base_path;
}

Result<ServerUrl> parse_server_url(std::string_view text) {
  ServerUrl url;
  std::string_view rest = text;
  if (rest.starts_with("http://")) {
    rest.remove_prefix(7);
  } else if (rest.starts_with("https://")) {
    url.tls = true;
    rest.remove_prefix(8);
  } else {
    return bad_url(text, "the scheme must be http or https");
  }
  if (rest.ends_with('/')) rest.remove_suffix(1);
  if (rest.find_first_of("?#@ \t\r\n") != std::string_view::npos) {
    return bad_url(text, "user info, a query, a fragment or spaces are not allowed");
  }
  const size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  if (slash != std::string_view::npos) url.base_path = std::string(rest.substr(slash));
  std::string_view port;
  if (authority.starts_with('[')) {
    const size_t close = authority.find(']');
    if (close == std::string_view::npos) return bad_url(text, "an unclosed [");
    url.host = std::string(authority.substr(1, close - 1));
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (!after.starts_with(':')) return bad_url(text, "junk after the address");
      port = after.substr(1);
    }
  } else {
    const size_t colon = authority.rfind(':');
    url.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) port = authority.substr(colon + 1);
  }
  if (url.host.empty()) return bad_url(text, "no host");
  if (port.empty() && authority.ends_with(':')) return bad_url(text, "an empty port");
  if (!port.empty() && !valid_port(port)) return bad_url(text, "the port must be 1-65535");
  url.port = port.empty() ? (url.tls ? "443" : "80") : std::string(port);
  return url;
}

}  // namespace isol8
