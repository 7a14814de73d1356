#pragma once
// The addresses a remote-code host stands for, every one of them checked against the ranges that
// reach the host itself or a private network (proxy/address_policy.h: loopback, RFC 1918,
// link-local and the metadata address, 0.0.0.0/8, CGNAT, ULA, IPv6 link-local, and IPv6 forms
// that embed such an IPv4 address). The fetch then connects only to these addresses
// (fetch/remote_code.cc), so that a second DNS answer cannot differ from the checked one.

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/ip/address.hpp>

#include "fetch/code_url.h"
#include "isol8/result.h"

namespace isol8::fetch {

using IpAddress = boost::asio::ip::address;

// An IP literal host ("203.0.113.7", "[2001:db8::1]"), or nullopt for a name.
std::optional<IpAddress> literal_address(const std::string& host);

// Why `address` may not be fetched from (e.g. "a loopback address"), nullopt when it may.
std::optional<std::string> refused_address(const IpAddress& address);

// The host's addresses: the literal, or what the resolver answers within `timeout`. Errors:
// `Failed to resolve code URL host: <host>`; `Blocked code URL host: <host> (<address> is <why>)`
// when any address is refused; code ETIMEDOUT when the resolver did not answer in time.
Result<std::vector<IpAddress>> resolve_checked(const CodeUrl& url,
                                               std::chrono::milliseconds timeout);

}  // namespace isol8::fetch
