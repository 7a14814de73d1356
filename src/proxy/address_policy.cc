#include "proxy/address_policy.h"

#include <array>
#include <cstdint>

namespace isol8::proxy {
namespace {

using boost::asio::ip::address;
using boost::asio::ip::address_v4;
using boost::asio::ip::address_v6;

struct V4Range {
  uint32_t base;
  int prefix;
  const char* reason;
};

constexpr uint32_t ip4(uint8_t a, uint8_t b, uint8_t c, uint8_t d) {
  return (uint32_t{a} << 24) | (uint32_t{b} << 16) | (uint32_t{c} << 8) | d;
}

// Order matters only for the reason text: the more specific ranges come first.
constexpr std::array<V4Range, 14> kRefusedV4 = {{
    {ip4(255, 255, 255, 255), 32, "the broadcast address"},
    {ip4(169, 254, 169, 254), 32, "the cloud metadata address"},
    {ip4(0, 0, 0, 0), 32, "the unspecified address"},
    {ip4(0, 0, 0, 0), 8, "in 0.0.0.0/8 (this network)"},
    {ip4(127, 0, 0, 0), 8, "a loopback address"},
    {ip4(10, 0, 0, 0), 8, "a private address"},
    {ip4(172, 16, 0, 0), 12, "a private address"},
    {ip4(192, 168, 0, 0), 16, "a private address"},
    {ip4(169, 254, 0, 0), 16, "a link-local address"},
    {ip4(100, 64, 0, 0), 10, "a carrier-grade NAT address"},
    {ip4(192, 0, 0, 0), 24, "an IETF protocol assignment address"},
    {ip4(198, 18, 0, 0), 15, "a benchmarking address"},
    {ip4(224, 0, 0, 0), 4, "a multicast address"},
    {ip4(240, 0, 0, 0), 4, "a reserved address"},
}};

bool in_v4(uint32_t value, uint32_t base, int prefix) {
  const uint32_t mask = prefix == 0 ? 0 : ~uint32_t{0} << (32 - prefix);
  return (value & mask) == (base & mask);
}

std::optional<std::string> refused_v4(const address_v4& a) {
  const uint32_t value = a.to_uint();
  for (const V4Range& range : kRefusedV4) {
    if (in_v4(value, range.base, range.prefix)) return std::string(range.reason);
  }
  return std::nullopt;
}

address_v4 v4_from(const address_v6::bytes_type& b, size_t offset) {
  return address_v4(address_v4::bytes_type{b[offset], b[offset + 1], b[offset + 2], b[offset + 3]});
}

bool prefix_is(const address_v6::bytes_type& b, std::initializer_list<uint8_t> prefix) {
  size_t i = 0;
  for (uint8_t byte : prefix) {
    if (b[i++] != byte) return false;
  }
  return true;
}

// The reason of an IPv4 address embedded in an IPv6 form, e.g. "an IPv4-mapped loopback address".
std::optional<std::string> embedded(const char* form, const address_v4& v4) {
  if (auto reason = refused_v4(v4)) {
    return std::string(form) + " form of " + v4.to_string() + ", " + *reason;
  }
  return std::nullopt;
}

std::optional<std::string> refused_v6(const address_v6& a) {
  const address_v6::bytes_type b = a.to_bytes();
  if (a.is_unspecified()) return std::string("the unspecified address");
  if (a.is_loopback()) return std::string("a loopback address");
  if (a.is_v4_mapped()) return embedded("an IPv4-mapped", v4_from(b, 12));
  // ::ffff:0:a.b.c.d, the SIIT "IPv4-translated" form.
  if (prefix_is(b, {0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0})) {
    return embedded("an IPv4-translated", v4_from(b, 12));
  }
  // ::a.b.c.d, the deprecated IPv4-compatible form (:: and ::1 were handled above).
  if (prefix_is(b, {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0})) {
    return embedded("an IPv4-compatible", v4_from(b, 12));
  }
  if (prefix_is(b, {0x00, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0})) {
    return embedded("a NAT64 (64:ff9b::/96)", v4_from(b, 12));
  }
  if (prefix_is(b, {0x00, 0x64, 0xff, 0x9b, 0x00, 0x01})) {
    return std::string("a local-use NAT64 address (64:ff9b:1::/48)");
  }
  if (prefix_is(b, {0x20, 0x02})) return embedded("a 6to4", v4_from(b, 2));
  if (prefix_is(b, {0x01, 0x00, 0, 0, 0, 0, 0, 0})) {
    return std::string("a discard-only address (100::/64)");
  }
  if (b[0] == 0xff) return std::string("a multicast address");
  if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80) return std::string("a link-local address");
  if (b[0] == 0xfe && (b[1] & 0xc0) == 0xc0) return std::string("a site-local address");
  if ((b[0] & 0xfe) == 0xfc) return std::string("a unique local address");
  return std::nullopt;
}

}  // namespace

std::optional<std::string> refused_reason(const address& a) {
  return a.is_v4() ? refused_v4(a.to_v4()) : refused_v6(a.to_v6());
}

address canonical_address(const address& a) {
  if (a.is_v6() && a.to_v6().is_v4_mapped()) {
    return boost::asio::ip::make_address_v4(boost::asio::ip::v4_mapped, a.to_v6());
  }
  return a;
}

}  // namespace isol8::proxy
