// The PostgreSQL key store: one shared connection (PgConnection); a lookup is one indexed query.

#include "server/pg_key_store.h"

#include <vector>

#include <fmt/format.h>

#include "common/iso_time.h"
#include "server/key_crypto.h"
#include "server/pg_connection.h"

namespace isol8::server {
namespace {

constexpr const char* kSchema = R"(
CREATE TABLE IF NOT EXISTS api_keys (
  id VARCHAR(36) PRIMARY KEY,
  name VARCHAR(255) NOT NULL,
  key_hash VARCHAR(64) NOT NULL UNIQUE,
  key_prefix VARCHAR(20) NOT NULL,
  tenant_id VARCHAR(255) NOT NULL,
  created_at VARCHAR(30) NOT NULL,
  expires_at VARCHAR(30) NOT NULL,
  last_used_at VARCHAR(30),
  revoked BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE INDEX IF NOT EXISTS idx_api_keys_tenant ON api_keys(tenant_id);
)";

constexpr const char* kColumns =
    "id, name, key_prefix, tenant_id, created_at, expires_at, last_used_at, revoked";

ApiKeyRecord read_record(const PgResult& r, int row) {
  ApiKeyRecord k;
  k.id = PgConnection::value(r, row, 0);
  k.name = PgConnection::value(r, row, 1);
  k.key_prefix = PgConnection::value(r, row, 2);
  k.tenant_id = PgConnection::value(r, row, 3);
  k.created_at = PgConnection::value(r, row, 4);
  k.expires_at = PgConnection::value(r, row, 5);
  if (!PgConnection::is_null(r, row, 6)) k.last_used_at = PgConnection::value(r, row, 6);
  k.revoked = std::string_view(PgConnection::value(r, row, 7)) == "t";
  return k;
}

class PgKeyStore final : public KeyStore {
 public:
  explicit PgKeyStore(std::unique_ptr<PgConnection> db) : db_(std::move(db)) {}

  Result<CreatedKey> create(const std::string& name, const std::string& tenant_id,
                            int64_t ttl_ms) override {
    CreatedKey made = new_key(name, tenant_id, ttl_ms);
    const ApiKeyRecord& r = made.record;
    auto done = exec(
        "INSERT INTO api_keys (id, name, key_hash, key_prefix, tenant_id, created_at, expires_at) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7)",
        {r.id, r.name, sha256_hex_of(made.key), r.key_prefix, r.tenant_id, r.created_at,
         r.expires_at});
    if (!done) return std::move(done).error();
    return made;
  }

  Result<std::optional<ApiKeyRecord>> authenticate(const std::string& key_hash) override {
    const std::string now = iso_timestamp_now();
    auto found = exec(fmt::format("UPDATE api_keys SET last_used_at = $2 WHERE key_hash = $1 AND "
                                  "NOT revoked AND expires_at > $2 RETURNING {}",
                                  kColumns),
                      {key_hash, now});
    if (!found) return std::move(found).error();
    if (PgConnection::rows(*found) == 0) return std::optional<ApiKeyRecord>{};
    return std::optional<ApiKeyRecord>(read_record(*found, 0));
  }

  Result<std::vector<ApiKeyRecord>> list(const std::optional<std::string>& tenant_id) override {
    auto rows =
        tenant_id ? exec(fmt::format("SELECT {} FROM api_keys WHERE tenant_id = $1 ORDER "
                                     "BY created_at",
                                     kColumns),
                         {*tenant_id})
                  : exec(fmt::format("SELECT {} FROM api_keys ORDER BY created_at", kColumns), {});
    if (!rows) return std::move(rows).error();
    std::vector<ApiKeyRecord> out;
    for (int i = 0; i < PgConnection::rows(*rows); ++i) out.push_back(read_record(*rows, i));
    return out;
  }

  Result<bool> revoke(const std::string& id) override {
    auto done = exec("UPDATE api_keys SET revoked = TRUE WHERE id = $1", {id});
    if (!done) return std::move(done).error();
    return PgConnection::affected(*done) != 0;
  }

  Result<int64_t> remove_stale() override {
    auto done =
        exec("DELETE FROM api_keys WHERE revoked OR expires_at <= $1", {iso_timestamp_now()});
    if (!done) return std::move(done).error();
    return PgConnection::affected(*done);
  }

 private:
  static std::string sha256_hex_of(const std::string& key) { return sha256_hex(key); }

  Result<PgResult> exec(const std::string& sql, const std::vector<std::string>& params) {
    return db_->exec(sql, params);
  }

  std::unique_ptr<PgConnection> db_;
};

}  // namespace

Result<std::unique_ptr<KeyStore>> open_pg_key_store(const std::string& connection) {
  auto db = PgConnection::open(connection, kSchema, "auth DB");
  if (!db) return std::move(db).error();
  return std::unique_ptr<KeyStore>(new PgKeyStore(std::move(db).value()));
}

}  // namespace isol8::server
