#include "fetch/code_url.h"

#include <algorithm>
#include <cctype>
#include <memory>

#include <fmt/format.h>

#include "fetch/curl_library.h"

namespace isol8::fetch {
namespace {

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

// One part of a parsed URL, or "" when it has none.
std::string url_part(const CurlLibrary& curl, const CURLU* url, CURLUPart part,
                     unsigned int flags = 0) {
  char* value = nullptr;
  if (curl.url_get(url, part, &value, flags) != CURLUE_OK || value == nullptr) return "";
  std::string out(value);
  curl.free(value);
  return out;
}

Result<std::vector<proxy::HostPattern>> compile_all(const std::vector<std::string>& sources,
                                                    std::string_view key) {
  std::vector<proxy::HostPattern> out;
  for (const auto& source : sources) {
    auto pattern = proxy::HostPattern::compile(source);
    if (!pattern) {
      return make_error(fmt::format("Invalid {} pattern \"{}\": {} {}", key, source,
                                    pattern.error().message, proxy::kHostPatternSyntaxHint));
    }
    out.push_back(std::move(pattern).value());
  }
  return out;
}

bool any_found_in(const std::vector<proxy::HostPattern>& patterns, std::string_view host) {
  return std::any_of(patterns.begin(), patterns.end(),
                     [&](const proxy::HostPattern& p) { return p.found_in(host); });
}

}  // namespace

Result<CodeUrl> parse_code_url(std::string_view text) {
  auto curl = curl_library();
  if (!curl) return std::move(curl).error();
  const CurlLibrary& lib = **curl;
  std::unique_ptr<CURLU, void (*)(CURLU*)> url(lib.url(), lib.url_cleanup);
  if (!url) return make_error("Invalid code URL: out of memory");
  const std::string input(text);
  auto invalid = [&] { return make_error(fmt::format("Invalid code URL: {}", input)); };
  // Any scheme parses, so that a scheme outside allowedSchemes gets upstream's message for it.
  if (input.find('\0') != std::string::npos ||
      lib.url_set(url.get(), CURLUPART_URL, input.c_str(), CURLU_NON_SUPPORT_SCHEME) != CURLUE_OK) {
    return invalid();
  }
  CodeUrl out;
  out.url = url_part(lib, url.get(), CURLUPART_URL);
  out.scheme = lower(url_part(lib, url.get(), CURLUPART_SCHEME));
  out.host = lower(url_part(lib, url.get(), CURLUPART_HOST));
  const std::string port = url_part(lib, url.get(), CURLUPART_PORT, CURLU_DEFAULT_PORT);
  // No host passes the scheme check (file:///x) and is refused there, with upstream's message.
  if (out.url.empty() || out.scheme.empty()) return invalid();
  if (out.host.empty() && (out.scheme == "http" || out.scheme == "https")) return invalid();
  const long port_number = port.empty() ? 0 : std::strtol(port.c_str(), nullptr, 10);
  if (port_number < 0 || port_number > 65535) return invalid();
  out.port = static_cast<uint16_t>(port_number);
  return out;
}

Result<UrlPolicy> UrlPolicy::compile(const RemoteCodePolicy& policy) {
  UrlPolicy out;
  for (const auto& scheme : policy.allowed_schemes) out.schemes_.push_back(lower(scheme));
  auto allowed = compile_all(policy.allowed_hosts, "remoteCode.allowedHosts");
  if (!allowed) return std::move(allowed).error();
  auto blocked = compile_all(policy.blocked_hosts, "remoteCode.blockedHosts");
  if (!blocked) return std::move(blocked).error();
  out.allowed_ = std::move(allowed).value();
  out.blocked_ = std::move(blocked).value();
  return out;
}

Result<void> UrlPolicy::check(const CodeUrl& url, bool allow_insecure) const {
  if (url.scheme == "http" && !allow_insecure) {
    return make_error("Insecure code URL blocked. Use allowInsecureCodeUrl=true to allow HTTP.");
  }
  // Only what libcurl is asked to speak (fetch/remote_code.cc) can pass, whatever the list says.
  const bool fetchable = url.scheme == "http" || url.scheme == "https";
  if (!fetchable || std::find(schemes_.begin(), schemes_.end(), url.scheme) == schemes_.end()) {
    return make_error("URL scheme not allowed: " + url.scheme);
  }
  if ((!allowed_.empty() && !any_found_in(allowed_, url.host)) ||
      any_found_in(blocked_, url.host)) {
    return make_error("Blocked code URL host: " + url.host);
  }
  return ok();
}

Result<std::string> parse_code_hash(std::string_view hex) {
  auto digit = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::string bytes;
  bool valid = hex.size() == 64;
  for (size_t i = 0; valid && i < hex.size(); i += 2) {
    const int hi = digit(hex[i]);
    const int lo = digit(hex[i + 1]);
    valid = hi >= 0 && lo >= 0;
    bytes.push_back(static_cast<char>(hi * 16 + lo));
  }
  if (!valid) {
    return make_error("Invalid codeHash: expected a SHA-256 digest as 64 hexadecimal digits");
  }
  return bytes;
}

}  // namespace isol8::fetch
