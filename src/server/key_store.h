#pragma once
// DB-backed API keys (upstream's api_keys table): created by the master key, stored only as
// SHA-256, with a tenant, an expiry, revocation and lastUsedAt. One interface, implemented over
// SQLite (a file path) and PostgreSQL (a postgres:// connection string). Implementations are
// thread-safe.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "isol8/result.h"

namespace isol8::server {

struct ApiKeyRecord {
  std::string id;  // UUID v4
  std::string name;
  std::string key_prefix;
  std::string tenant_id;
  std::string created_at;  // ISO 8601
  std::string expires_at;
  std::optional<std::string> last_used_at;
  bool revoked = false;
};

struct CreatedKey {
  ApiKeyRecord record;
  std::string key;  // the plaintext, returned once
};

class KeyStore {
 public:
  virtual ~KeyStore() = default;
  virtual Result<CreatedKey> create(const std::string& name, const std::string& tenant_id,
                                    int64_t ttl_ms) = 0;
  // The key whose hash this is, when it is neither revoked nor expired; records the use.
  virtual Result<std::optional<ApiKeyRecord>> authenticate(const std::string& key_hash) = 0;
  virtual Result<std::vector<ApiKeyRecord>> list(const std::optional<std::string>& tenant_id) = 0;
  // False when no key has that id (revoking a revoked key is true).
  virtual Result<bool> revoke(const std::string& id) = 0;
  // Deletes revoked and expired keys; returns how many.
  virtual Result<int64_t> remove_stale() = 0;
};

// SQLite for a path, PostgreSQL for postgres:// and postgresql:// (when built with libpq).
Result<std::unique_ptr<KeyStore>> open_key_store(const std::string& connection);

// A new key's record and plaintext (shared by the implementations).
CreatedKey new_key(const std::string& name, const std::string& tenant_id, int64_t ttl_ms);

}  // namespace isol8::server
