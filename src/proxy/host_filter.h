#pragma once
// The host-name filter of the "filtered" network mode: --allow/--deny patterns compiled once
// (HostPattern: RE2, case-insensitive, unanchored unless the pattern says ^...$, matched in linear
// time), like upstream's documented behaviour. A blacklist match always blocks; an empty whitelist
// allows every host not blacklisted.

#include <string>
#include <string_view>
#include <vector>

#include "isol8/result.h"
#include "isol8/types.h"
#include "proxy/host_pattern.h"

namespace isol8::proxy {

class HostFilter {
 public:
  // Fails naming the first pattern RE2 cannot compile.
  static Result<HostFilter> compile(const NetworkFilter& filter);

  // Checks patterns before anything starts; `label` says where they came from ("--allow",
  // "network.whitelist"). Fails with `Invalid <label> pattern "<p>": <reason>. <syntax hint>`.
  static Result<void> check(const std::vector<std::string>& patterns, std::string_view label);

  // `host` is the normalised request host (lower case, no trailing dot, IPv6 without brackets).
  bool allows(const std::string& host) const;

  // True when an allow pattern names the IP literal `host` exactly (e.g. ^127\.0\.0\.1$ or
  // ^::1$): the only way to reach an address the proxy otherwise refuses. A pattern that merely
  // matches it (.*, ^127\.) does not count, so a broad allow-list never opens the host's own
  // networks by accident.
  bool names_address_literally(const std::string& host) const;

 private:
  std::vector<HostPattern> whitelist_;
  std::vector<HostPattern> blacklist_;
};

}  // namespace isol8::proxy
