#include "proxy/request_target.h"

#include <algorithm>
#include <cctype>
#include <charconv>

#include <boost/asio/ip/address.hpp>

namespace isol8::proxy {
namespace {

constexpr size_t kMaxHostLength = 253;

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

bool valid_reg_name(std::string_view host) {
  if (host.empty() || host.size() > kMaxHostLength) return false;
  return std::all_of(host.begin(), host.end(), [](unsigned char c) {
    return std::isalnum(c) || c == '-' || c == '.' || c == '_';
  });
}

Result<uint16_t> parse_port(std::string_view text) {
  unsigned value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size() || value == 0 ||
      value > 65535) {
    return make_error("invalid port \"" + std::string(text) + "\"");
  }
  return static_cast<uint16_t>(value);
}

// host[:port] or [v6][:port]; `default_port` when the port is omitted.
Result<Target> parse_authority(std::string_view authority, uint16_t default_port) {
  Target t;
  t.port = default_port;
  std::string_view host;
  std::string_view port;
  if (authority.empty()) return make_error("empty host");
  if (authority.front() == '[') {
    const size_t close = authority.find(']');
    if (close == std::string_view::npos) return make_error("unterminated IPv6 literal");
    host = authority.substr(1, close - 1);
    std::string_view rest = authority.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return make_error("junk after IPv6 literal");
      port = rest.substr(1);
      if (port.empty()) return make_error("empty port");
    }
    boost::system::error_code ec;
    const auto addr = boost::asio::ip::make_address_v6(std::string(host), ec);
    if (ec) return make_error("invalid IPv6 literal \"" + std::string(host) + "\"");
    t.host = addr.to_string();
    t.ip_literal = true;
  } else {
    const size_t colon = authority.rfind(':');
    host = authority.substr(0, colon);
    if (colon != std::string_view::npos) {
      port = authority.substr(colon + 1);
      if (port.empty()) return make_error("empty port");
    }
    if (!host.empty() && host.back() == '.') host.remove_suffix(1);
    if (!valid_reg_name(host)) return make_error("invalid host \"" + std::string(host) + "\"");
    t.host = lower(host);
    boost::system::error_code ec;
    const auto addr = boost::asio::ip::make_address_v4(t.host, ec);
    if (!ec) {
      t.host = addr.to_string();
      t.ip_literal = true;
    }
  }
  if (!port.empty()) {
    auto p = parse_port(port);
    if (!p) return std::move(p).error();
    t.port = *p;
  }
  return t;
}

}  // namespace

std::string Target::host_for_header() const {
  return host.find(':') != std::string::npos ? "[" + host + "]" : host;
}

std::string Target::authority() const { return host_for_header() + ":" + std::to_string(port); }

Result<Target> parse_connect_target(std::string_view target) {
  if (target.find_first_of("/?#@") != std::string_view::npos) {
    return make_error("CONNECT target must be host:port, got \"" + std::string(target) + "\"");
  }
  return parse_authority(target, 443);
}

Result<Target> parse_absolute_target(std::string_view target) {
  constexpr std::string_view kScheme = "http://";
  if (target.size() < kScheme.size() || lower(target.substr(0, kScheme.size())) != kScheme) {
    return make_error("a proxy request needs an absolute http:// URI, got \"" +
                      std::string(target.substr(0, 200)) + "\"");
  }
  std::string_view rest = target.substr(kScheme.size());
  const size_t end = rest.find_first_of("/?#");
  std::string_view authority = rest.substr(0, end);
  if (authority.find('@') != std::string_view::npos) {
    return make_error("user information in a proxy URI is not supported");
  }
  auto t = parse_authority(authority, 80);
  if (!t) return t;
  std::string_view path = end == std::string_view::npos ? std::string_view{} : rest.substr(end);
  if (const size_t hash = path.find('#'); hash != std::string_view::npos)
    path = path.substr(0, hash);
  t->path =
      path.empty() ? "/" : (path.front() == '?' ? "/" + std::string(path) : std::string(path));
  return t;
}

}  // namespace isol8::proxy
