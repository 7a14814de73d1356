// The PostgreSQL key store: one connection guarded by a mutex (lookups are one indexed query),
// reconnected when it breaks. Parameters always go as query parameters, never into the SQL.

#include "server/pg_key_store.h"

#include <mutex>
#include <vector>

#include <fmt/format.h>

#include "common/iso_time.h"
#include "server/key_crypto.h"
#include "server/pq_library.h"

namespace isol8::server {
namespace {

struct ConnCloser {
  void operator()(PGconn* c) const { loaded_pq().finish(c); }
};
struct ResultClear {
  void operator()(PGresult* r) const { loaded_pq().clear(r); }
};
using Conn = std::unique_ptr<PGconn, ConnCloser>;
using PgResult = std::unique_ptr<PGresult, ResultClear>;

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

ApiKeyRecord read_record(PGresult* r, int row) {
  ApiKeyRecord k;
  k.id = loaded_pq().getvalue(r, row, 0);
  k.name = loaded_pq().getvalue(r, row, 1);
  k.key_prefix = loaded_pq().getvalue(r, row, 2);
  k.tenant_id = loaded_pq().getvalue(r, row, 3);
  k.created_at = loaded_pq().getvalue(r, row, 4);
  k.expires_at = loaded_pq().getvalue(r, row, 5);
  if (!loaded_pq().getisnull(r, row, 6)) k.last_used_at = loaded_pq().getvalue(r, row, 6);
  k.revoked = std::string_view(loaded_pq().getvalue(r, row, 7)) == "t";
  return k;
}

class PgKeyStore final : public KeyStore {
 public:
  PgKeyStore(std::string connection, Conn conn)
      : connection_(std::move(connection)), conn_(std::move(conn)) {}

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
    if (loaded_pq().ntuples(found->get()) == 0) return std::optional<ApiKeyRecord>{};
    return std::optional<ApiKeyRecord>(read_record(found->get(), 0));
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
    for (int i = 0; i < loaded_pq().ntuples(rows->get()); ++i)
      out.push_back(read_record(rows->get(), i));
    return out;
  }

  Result<bool> revoke(const std::string& id) override {
    auto done = exec("UPDATE api_keys SET revoked = TRUE WHERE id = $1", {id});
    if (!done) return std::move(done).error();
    return std::string_view(loaded_pq().cmd_tuples(done->get())) != "0";
  }

  Result<int64_t> remove_stale() override {
    auto done =
        exec("DELETE FROM api_keys WHERE revoked OR expires_at <= $1", {iso_timestamp_now()});
    if (!done) return std::move(done).error();
    return static_cast<int64_t>(std::stoll(loaded_pq().cmd_tuples(done->get())));
  }

 private:
  static std::string sha256_hex_of(const std::string& key) { return sha256_hex(key); }

  Result<PgResult> exec(const std::string& sql, const std::vector<std::string>& params) {
    std::lock_guard lock(mutex_);
    if (loaded_pq().status(conn_.get()) != CONNECTION_OK) loaded_pq().reset(conn_.get());
    std::vector<const char*> values;
    for (const auto& p : params) values.push_back(p.c_str());
    PgResult r(loaded_pq().exec_params(conn_.get(), sql.c_str(), static_cast<int>(values.size()),
                                       nullptr, values.data(), nullptr, nullptr, 0));
    const auto status = loaded_pq().result_status(r.get());
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
      return make_error(fmt::format("auth DB: {}", loaded_pq().error_message(conn_.get())));
    }
    return r;
  }

  std::string connection_;
  std::mutex mutex_;
  Conn conn_;
};

}  // namespace

Result<std::unique_ptr<KeyStore>> open_pg_key_store(const std::string& connection) {
  if (auto loaded = pq_library(); !loaded) return std::move(loaded).error();
  Conn conn(loaded_pq().connectdb(connection.c_str()));
  if (loaded_pq().status(conn.get()) != CONNECTION_OK) {
    return make_error(
        fmt::format("cannot connect to the auth DB: {}", loaded_pq().error_message(conn.get())));
  }
  PgResult r(loaded_pq().exec(conn.get(), kSchema));
  if (loaded_pq().result_status(r.get()) != PGRES_COMMAND_OK) {
    return make_error(
        fmt::format("cannot set up the auth DB: {}", loaded_pq().error_message(conn.get())));
  }
  return std::unique_ptr<KeyStore>(new PgKeyStore(connection, std::move(conn)));
}

}  // namespace isol8::server
