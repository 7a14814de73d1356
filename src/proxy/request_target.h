#pragma once
// Parsing of the request targets a forward proxy accepts: the authority form of CONNECT
// (host:port, [v6]:port; port 443 when omitted) and the absolute form of plain HTTP
// (http://host[:port]/path?query). Host names are validated and normalised here, so that the
// filter sees one spelling per host: lower case, no trailing dot, IPv6 literals without brackets.

#include <cstdint>
#include <string>
#include <string_view>

#include "isol8/result.h"

namespace isol8::proxy {

struct Target {
  std::string host;  // normalised
  uint16_t port = 0;
  std::string path;  // origin form ("/" at least) for HTTP; empty for CONNECT
  bool ip_literal = false;

  // host:port as it goes into a Host header or a message ("[::1]:443" for IPv6).
  std::string authority() const;
  std::string host_for_header() const;
};

Result<Target> parse_connect_target(std::string_view target);
Result<Target> parse_absolute_target(std::string_view target);

}  // namespace isol8::proxy
