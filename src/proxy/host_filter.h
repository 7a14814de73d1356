#pragma once
// The host-name filter of the "filtered" network mode: --allow/--deny patterns compiled once as
// ECMAScript regexes, case-insensitive, with regex_search semantics (unanchored unless the pattern
// says ^...$), like upstream's documented behaviour. A blacklist match always blocks; an empty
// whitelist allows every host not blacklisted.

#include <regex>
#include <string>
#include <vector>

#include "isol8/result.h"
#include "isol8/types.h"

namespace isol8::proxy {

class HostFilter {
 public:
  // Fails naming the first pattern that is not a valid ECMAScript regex.
  static Result<HostFilter> compile(const NetworkFilter& filter);

  // `host` is the normalised request host (lower case, no trailing dot, IPv6 without brackets).
  bool allows(const std::string& host) const;

  // True when an allow pattern names the IP literal `host` exactly (e.g. ^127\.0\.0\.1$ or
  // ^::1$): the only way to reach an address the proxy otherwise refuses. A pattern that merely
  // matches it (.*, ^127\.) does not count, so a broad allow-list never opens the host's own
  // networks by accident.
  bool names_address_literally(const std::string& host) const;

 private:
  struct Pattern {
    std::string source;
    std::regex regex;
  };
  std::vector<Pattern> whitelist_;
  std::vector<Pattern> blacklist_;
};

}  // namespace isol8::proxy
