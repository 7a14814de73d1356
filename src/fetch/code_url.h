#pragma once
// The checks a remote-code URL passes before anything is fetched from it, for the first URL and
// for every redirect target alike: its scheme (https, or http with allowInsecureCodeUrl and
// "http" in allowedSchemes), its host against remoteCode.allowedHosts / blockedHosts, and each
// address its host stands for (fetch/address_check.h). Messages are upstream's.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "isol8/result.h"
#include "isol8/types.h"
#include "proxy/host_pattern.h"

namespace isol8::fetch {

// A URL as libcurl parsed it: the same parser then fetches it, so that what was checked and what
// is connected to cannot differ (a hand-written parser next to curl's would be an SSRF gap).
struct CodeUrl {
  std::string url;     // normalised by curl
  std::string scheme;  // lower case
  std::string host;    // lower case; an IPv6 literal keeps its brackets, as in upstream's checks
  uint16_t port = 0;   // the scheme's default when the URL names none
};

// `Invalid code URL: <text>` when libcurl cannot parse it (or it has no host).
Result<CodeUrl> parse_code_url(std::string_view text);

// The scheme and host rules of a RemoteCodePolicy, with its patterns compiled once.
class UrlPolicy {
 public:
  // Refuses a host pattern that does not compile, naming remoteCode.allowedHosts/blockedHosts.
  static Result<UrlPolicy> compile(const RemoteCodePolicy& policy);

  // In upstream's order: `Insecure code URL blocked. Use allowInsecureCodeUrl=true to allow
  // HTTP.`, `URL scheme not allowed: <scheme>`, `Blocked code URL host: <host>`.
  Result<void> check(const CodeUrl& url, bool allow_insecure) const;

 private:
  std::vector<std::string> schemes_;
  std::vector<proxy::HostPattern> allowed_;
  std::vector<proxy::HostPattern> blocked_;
};

// A codeHash as 32 bytes: 64 hex digits, either case; refused with its own message otherwise.
Result<std::string> parse_code_hash(std::string_view hex);

}  // namespace isol8::fetch
