#include "network/address_pool.h"

#include <arpa/inet.h>

#include <charconv>

#include <fmt/format.h>

namespace isol8 {

std::string format_ipv4(uint32_t address) {
  return fmt::format("{}.{}.{}.{}", address >> 24, (address >> 16) & 0xff, (address >> 8) & 0xff,
                     address & 0xff);
}

Result<AddressPool> AddressPool::parse(std::string_view cidr) {
  const auto bad = [&](std::string_view why) {
    return make_error(fmt::format("invalid network address pool \"{}\": {}", cidr, why));
  };
  const auto slash = cidr.find('/');
  if (slash == std::string_view::npos) return bad("expected a.b.c.d/prefix");
  const std::string addr(cidr.substr(0, slash));
  in_addr parsed{};
  if (::inet_pton(AF_INET, addr.c_str(), &parsed) != 1) return bad("not an IPv4 address");
  int prefix = -1;
  const auto len = cidr.substr(slash + 1);
  const auto [end, ec] = std::from_chars(len.data(), len.data() + len.size(), prefix);
  if (ec != std::errc{} || end != len.data() + len.size()) return bad("bad prefix length");
  if (prefix < 8 || prefix > 30) return bad("the prefix length must be between 8 and 30");
  const uint32_t base = ntohl(parsed.s_addr);
  const uint32_t mask = prefix == 0 ? 0 : ~uint32_t{0} << (32 - prefix);
  if ((base & ~mask) != 0) return bad("host bits are set");
  AddressPool pool;
  pool.base_ = base;
  pool.prefix_ = prefix;
  pool.slots_ = uint32_t{1} << (30 - prefix);
  return pool;
}

SlotAddresses AddressPool::addresses(uint32_t slot) const {
  SlotAddresses out;
  const uint32_t net = base_ + 4 * (slot % slots_);
  out.host = net + 1;
  out.sandbox = net + 2;
  return out;
}

std::string AddressPool::cidr() const { return fmt::format("{}/{}", format_ipv4(base_), prefix_); }

}  // namespace isol8
