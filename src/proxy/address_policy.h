#pragma once
// Which destination addresses the filtering proxy refuses to connect to, whatever the host-name
// filter says: everything that reaches the host itself or its private networks (loopback, RFC 1918,
// link-local with the cloud metadata service, CGNAT, ULA, multicast, ...), including the IPv6 forms
// that embed such an IPv4 address (mapped, compatible, NAT64, 6to4). A pure function, so that every
// range is unit-tested.

#include <optional>
#include <string>
#include <string_view>

#include <boost/asio/ip/address.hpp>

namespace isol8::proxy {

// Why an address is refused, e.g. "a loopback address"; nullopt when it may be connected to.
// The documentation ranges (TEST-NET-1/2/3, 2001:db8::/32) are allowed: nothing routes them, and
// tests use them as stand-ins for public hosts.
std::optional<std::string> refused_reason(const boost::asio::ip::address& address);

// The address a socket would really reach: IPv4-mapped IPv6 (::ffff:a.b.c.d) becomes IPv4.
boost::asio::ip::address canonical_address(const boost::asio::ip::address& address);

}  // namespace isol8::proxy
