#pragma once
// Who a request comes from: the master key (compared in constant time), a DB key (its SHA-256
// looked up in the key store), or nobody (upstream's 401/403 bodies).

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "isol8/result.h"
#include "server/key_store.h"

namespace isol8::server {

struct Principal {
  bool master = false;
  std::string tenant_id;  // a DB key's tenant; empty for the master key
  std::string key_id;     // a DB key's id, "master" for the master key (for the access log)
};

// The tenant that owns what the master key creates; DB keys never see it.
inline constexpr const char* kMasterTenant = "";

class Authenticator {
 public:
  Authenticator(std::string master_key, std::unique_ptr<KeyStore> store)
      : master_key_(std::move(master_key)), store_(std::move(store)) {}

  // `authorization` is the Authorization header (nullopt when absent). Errors carry the HTTP
  // status: 401 "Missing Authorization header", 403 "Invalid API key".
  Result<Principal> authenticate(const std::optional<std::string_view>& authorization) const;

  KeyStore* store() const { return store_.get(); }

 private:
  std::string master_key_;
  std::unique_ptr<KeyStore> store_;
};

// The token of an Authorization header: a case-insensitive "Bearer" and spaces removed, else the
// whole header (upstream's regex ^Bearer\s+).
std::string bearer_token(std::string_view header);

}  // namespace isol8::server
