#include "fetch/remote_code.h"

#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <chrono>
#include <memory>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "common/sha256.h"
#include "fetch/address_check.h"
#include "fetch/code_url.h"
#include "fetch/curl_library.h"
#include "fetch/utf8.h"
#include "isol8/version.h"

namespace isol8::fetch {
namespace {

using Clock = std::chrono::steady_clock;

// Why a transfer stopped before its end, when a callback stopped it.
enum class Abort { kNone, kTooBig, kNotWanted };

struct Transfer {
  uint64_t max_bytes = 0;
  const std::vector<IpAddress>* checked = nullptr;
  long status = 0;
  int64_t declared_length = -1;  // the final response's Content-Length, -1 if none
  std::string body;
  Abort abort = Abort::kNone;
  std::string refused_connect;  // an address the socket callback refused
};

bool starts_with_nocase(std::string_view text, std::string_view prefix) {
  if (text.size() < prefix.size()) return false;
  for (size_t i = 0; i < prefix.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(text[i])) != prefix[i]) return false;
  }
  return true;
}

// Each header line of each response: the status line starts a response, Content-Length is
// checked against the cap at the end of a 2xx response's headers, before any of its body.
size_t on_header(char* data, size_t size, size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const size_t length = size * count;
  const std::string_view line(data, length);
  if (starts_with_nocase(line, "http/")) {
    const size_t space = line.find(' ');
    t->status = space == std::string_view::npos ? 0 : std::strtol(data + space + 1, nullptr, 10);
    t->declared_length = -1;
  } else if (starts_with_nocase(line, "content-length:")) {
    t->declared_length = std::strtoll(data + 15, nullptr, 10);
  } else if (line == "\r\n" || line == "\n") {
    if (t->status >= 200 && t->status < 300 && t->declared_length >= 0 &&
        static_cast<uint64_t>(t->declared_length) > t->max_bytes) {
      t->abort = Abort::kTooBig;
      return 0;
    }
  }
  return length;
}

size_t on_body(char* data, size_t size, size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const size_t length = size * count;
  if (t->status < 200 || t->status >= 300) {
    t->abort = Abort::kNotWanted;  // a redirect's or an error's body is never read
    return 0;
  }
  if (t->body.size() + length > t->max_bytes) {
    t->abort = Abort::kTooBig;  // no Content-Length, or one that understated the body
    return 0;
  }
  t->body.append(data, length);
  return length;
}

std::optional<IpAddress> address_of(const curl_sockaddr* a) {
  if (a->family == AF_INET && a->addrlen >= sizeof(sockaddr_in)) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(&a->addr);
    return IpAddress(boost::asio::ip::address_v4(ntohl(in->sin_addr.s_addr)));
  }
  if (a->family == AF_INET6 && a->addrlen >= sizeof(sockaddr_in6)) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&a->addr);
    boost::asio::ip::address_v6::bytes_type bytes;
    std::copy(std::begin(in6->sin6_addr.s6_addr), std::end(in6->sin6_addr.s6_addr), bytes.begin());
    return IpAddress(boost::asio::ip::address_v6(bytes, in6->sin6_scope_id));
  }
  return std::nullopt;
}

// The last word on where a connection goes: only to an address that was checked for this hop.
curl_socket_t on_open_socket(void* user, curlsocktype purpose, curl_sockaddr* a) {
  auto* t = static_cast<Transfer*>(user);
  const auto address = address_of(a);
  const bool checked =
      purpose == CURLSOCKTYPE_IPCXN && address &&
      std::find(t->checked->begin(), t->checked->end(), *address) != t->checked->end() &&
      !refused_address(*address);
  if (!checked) {
    t->refused_connect = address ? address->to_string() : "a non-IP address";
    return CURL_SOCKET_BAD;
  }
  return ::socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
}

// CURLOPT_RESOLVE's entry pinning `url`'s host to the checked addresses.
std::string pin_entry(const CodeUrl& url, const std::vector<IpAddress>& addresses) {
  std::string entry = fmt::format("{}:{}:", url.host, url.port);
  for (size_t i = 0; i < addresses.size(); ++i) {
    const std::string text = addresses[i].to_string();
    entry += (i == 0 ? "" : ",") + (addresses[i].is_v6() ? "[" + text + "]" : text);
  }
  return entry;
}

struct HopResult {
  long status = 0;
  std::string redirect;  // the absolute target of a 3xx
  std::string body;
};

std::string timed_out(const RemoteCodePolicy& policy) {
  return fmt::format("Remote code fetch timed out after {}ms", policy.fetch_timeout_ms);
}

// One GET of `url` (already checked) from `addresses`, within `remaining`.
Result<HopResult> get_once(const CurlLibrary& curl, const CodeUrl& url,
                           const std::vector<IpAddress>& addresses,
                           std::chrono::milliseconds remaining, const RemoteCodePolicy& policy) {
  std::unique_ptr<CURL, void (*)(CURL*)> easy(curl.easy_init(), curl.easy_cleanup);
  if (!easy) return make_error("Failed to fetch remote code: curl_easy_init failed");
  std::unique_ptr<curl_slist, void (*)(curl_slist*)> pins(nullptr, curl.slist_free_all);
  if (!literal_address(url.host)) {
    pins.reset(curl.slist_append(nullptr, pin_entry(url, addresses).c_str()));
  }
  Transfer t;
  t.max_bytes = static_cast<uint64_t>(policy.max_code_size);
  t.checked = &addresses;
  char error_buffer[CURL_ERROR_SIZE] = {};
  CURL* h = easy.get();
  const long timeout_ms = std::max<long>(1, static_cast<long>(remaining.count()));
  const std::string agent = std::string("isol8/") + kVersion;
  curl.easy_setopt(h, CURLOPT_URL, url.url.c_str());
  curl.easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
  curl.easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);  // each hop is checked here first
  curl.easy_setopt(h, CURLOPT_PROXY, "");           // no proxy from the environment
  curl.easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl.easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout_ms);
  curl.easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms);
  curl.easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
  curl.easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
  curl.easy_setopt(h, CURLOPT_USERAGENT, agent.c_str());
  curl.easy_setopt(h, CURLOPT_ERRORBUFFER, error_buffer);
  if (pins) curl.easy_setopt(h, CURLOPT_RESOLVE, pins.get());
  curl.easy_setopt(h, CURLOPT_OPENSOCKETFUNCTION, &on_open_socket);
  curl.easy_setopt(h, CURLOPT_OPENSOCKETDATA, &t);
  curl.easy_setopt(h, CURLOPT_HEADERFUNCTION, &on_header);
  curl.easy_setopt(h, CURLOPT_HEADERDATA, &t);
  curl.easy_setopt(h, CURLOPT_WRITEFUNCTION, &on_body);
  curl.easy_setopt(h, CURLOPT_WRITEDATA, &t);
  const CURLcode code = curl.easy_perform(h);

  if (t.abort == Abort::kTooBig) {
    return t.declared_length >= 0 && static_cast<uint64_t>(t.declared_length) > t.max_bytes
               ? make_error(fmt::format("Remote code exceeds maxCodeSize ({} bytes): {} bytes",
                                        policy.max_code_size, t.declared_length))
               : make_error(fmt::format("Remote code exceeds maxCodeSize ({} bytes)",
                                        policy.max_code_size));
  }
  if (!t.refused_connect.empty()) {
    return make_error(
        fmt::format("Blocked code URL host: {} (a connection to {} was refused: it "
                    "is not an address that was checked)",
                    url.host, t.refused_connect));
  }
  if (code == CURLE_OPERATION_TIMEDOUT) return make_error(timed_out(policy));
  if (code != CURLE_OK && t.abort != Abort::kNotWanted) {
    return make_error(
        fmt::format("Failed to fetch remote code: {}",
                    error_buffer[0] != '\0' ? error_buffer : curl.easy_strerror(code)));
  }
  HopResult hop;
  hop.status = t.status;
  hop.body = std::move(t.body);
  if (t.status >= 300 && t.status < 400) {
    char* target = nullptr;
    if (curl.easy_getinfo(h, CURLINFO_REDIRECT_URL, &target) == CURLE_OK && target != nullptr) {
      hop.redirect = target;
    }
  }
  return hop;
}

}  // namespace

Result<FetchedCode> fetch_remote_code(const RemoteCodeRequest& request,
                                      const RemoteCodePolicy& policy) {
  if (!policy.enabled) {
    return make_error("Remote code fetching is disabled. Set remoteCode.enabled=true to allow it.");
  }
  const auto deadline = Clock::now() + std::chrono::milliseconds(policy.fetch_timeout_ms);
  auto remaining = [&] {
    return std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  };
  auto rules = UrlPolicy::compile(policy);
  if (!rules) return std::move(rules).error();
  auto curl = curl_library();
  if (!curl) return std::move(curl).error().context("Failed to fetch remote code");

  std::string current = request.url;
  std::string from;                          // the URL that redirected to `current`
  std::optional<std::string> expected_hash;  // the digest's 32 bytes
  for (int hop = 0;; ++hop) {
    auto checked = [&]() -> Result<std::pair<CodeUrl, std::vector<IpAddress>>> {
      auto url = parse_code_url(current);
      if (!url) return std::move(url).error();
      ISOL8_TRY(rules->check(*url, request.allow_insecure));
      auto addresses = resolve_checked(*url, std::max(remaining(), std::chrono::milliseconds(0)));
      if (!addresses) {
        if (addresses.error().code == ETIMEDOUT) return make_error(timed_out(policy));
        return std::move(addresses).error();
      }
      return std::pair{std::move(url).value(), std::move(addresses).value()};
    }();
    if (!checked) {
      if (from.empty()) return std::move(checked).error();
      return make_error(
          fmt::format("{} (redirected to {} from {})", checked.error().message, current, from));
    }
    if (hop == 0) {
      // upstream's order: the URL's checks, then the hash requirement, then the request.
      if (!request.hash.empty()) {
        auto bytes = parse_code_hash(request.hash);
        if (!bytes) return std::move(bytes).error();
        expected_hash = std::move(bytes).value();
      } else if (policy.require_hash) {
        return make_error(
            "Hash verification required: provide codeHash for remote code execution.");
      }
    }
    if (remaining().count() <= 0) return make_error(timed_out(policy));
    spdlog::debug("remote code: GET {} ({} address(es) checked)", checked->first.url,
                  checked->second.size());
    auto got = get_once(**curl, checked->first, checked->second, remaining(), policy);
    if (!got) return std::move(got).error();
    if (got->status >= 300 && got->status < 400 && !got->redirect.empty()) {
      if (hop >= policy.max_redirects) {
        return make_error(fmt::format(
            "Remote code fetch followed too many redirects (more than {})", policy.max_redirects));
      }
      from = checked->first.url;
      current = got->redirect;
      continue;
    }
    if (got->status < 200 || got->status >= 300) {
      return make_error(fmt::format("Failed to fetch remote code: HTTP {}", got->status));
    }
    if (!is_strict_utf8(got->body) || got->body.find('\0') != std::string::npos) {
      return make_error("Fetched code appears to be binary content");
    }
    if (expected_hash) {
      if (!constant_time_equal(sha256(got->body), *expected_hash)) {
        return make_error("Remote code hash mismatch");
      }
    }
    return FetchedCode{std::move(got->body), checked->first.url};
  }
}

}  // namespace isol8::fetch
