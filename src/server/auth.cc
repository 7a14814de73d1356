#include "server/auth.h"

#include <cctype>

#include <spdlog/spdlog.h>

#include "server/http_error.h"
#include "server/key_crypto.h"

namespace isol8::server {

std::string bearer_token(std::string_view header) {
  static constexpr std::string_view kBearer = "bearer";
  if (header.size() > kBearer.size()) {
    bool match = true;
    for (size_t i = 0; i < kBearer.size(); ++i) {
      match = match && std::tolower(static_cast<unsigned char>(header[i])) == kBearer[i];
    }
    size_t end = kBearer.size();
    while (end < header.size() && std::isspace(static_cast<unsigned char>(header[end]))) ++end;
    if (match && end > kBearer.size()) return std::string(header.substr(end));
  }
  return std::string(header);
}

Result<Principal> Authenticator::authenticate(
    const std::optional<std::string_view>& authorization) const {
  if (!authorization) return http_error(401, "Missing Authorization header");
  const std::string token = bearer_token(*authorization);
  if (constant_time_equal(token, master_key_)) return Principal{true, kMasterTenant, "master"};
  if (store_ != nullptr && !token.empty()) {
    // The lookup is by hash: the plaintext is never compared or stored.
    auto found = store_->authenticate(sha256_hex(token));
    if (!found) {
      spdlog::error("{}", found.error().message);
      return http_error(500, "Internal Server Error");
    }
    if (*found) return Principal{false, (*found)->tenant_id, (*found)->id};
  }
  return http_error(403, "Invalid API key");
}

}  // namespace isol8::server
