// The SQLite key store: one file, WAL journal, camelCase columns as upstream's bun:sqlite schema.

#include <sqlite3.h>

#include <chrono>
#include <filesystem>
#include <mutex>

#include <fmt/format.h>

#include "common/iso_time.h"
#include "core/ids.h"
#include "server/key_crypto.h"
#include "server/key_store.h"
#include "server/sqlite_key_store.h"

namespace isol8::server {
namespace {

struct DbCloser {
  void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};
struct StmtFinalizer {
  void operator()(sqlite3_stmt* s) const { sqlite3_finalize(s); }
};
using Db = std::unique_ptr<sqlite3, DbCloser>;
using Stmt = std::unique_ptr<sqlite3_stmt, StmtFinalizer>;

constexpr const char* kSchema = R"(
CREATE TABLE IF NOT EXISTS api_keys (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  keyHash TEXT NOT NULL UNIQUE,
  keyPrefix TEXT NOT NULL,
  tenantId TEXT NOT NULL,
  createdAt TEXT NOT NULL,
  expiresAt TEXT NOT NULL,
  lastUsedAt TEXT,
  revoked INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS idx_api_keys_hash ON api_keys(keyHash);
CREATE INDEX IF NOT EXISTS idx_api_keys_tenant ON api_keys(tenantId);
)";

constexpr const char* kColumns =
    "id, name, keyPrefix, tenantId, createdAt, expiresAt, lastUsedAt, revoked";

std::string column_text(sqlite3_stmt* s, int i) {
  const auto* t = sqlite3_column_text(s, i);
  return t == nullptr ? std::string() : std::string(reinterpret_cast<const char*>(t));
}

ApiKeyRecord read_record(sqlite3_stmt* s) {
  ApiKeyRecord r;
  r.id = column_text(s, 0);
  r.name = column_text(s, 1);
  r.key_prefix = column_text(s, 2);
  r.tenant_id = column_text(s, 3);
  r.created_at = column_text(s, 4);
  r.expires_at = column_text(s, 5);
  if (sqlite3_column_type(s, 6) != SQLITE_NULL) r.last_used_at = column_text(s, 6);
  r.revoked = sqlite3_column_int(s, 7) != 0;
  return r;
}

class SqliteKeyStore final : public KeyStore {
 public:
  explicit SqliteKeyStore(Db db) : db_(std::move(db)) {}

  Result<CreatedKey> create(const std::string& name, const std::string& tenant_id,
                            int64_t ttl_ms) override {
    CreatedKey made = new_key(name, tenant_id, ttl_ms);
    const ApiKeyRecord& r = made.record;
    std::lock_guard lock(mutex_);
    auto stmt = prepare(
        "INSERT INTO api_keys (id, name, keyHash, keyPrefix, tenantId, createdAt, expiresAt, "
        "lastUsedAt, revoked) VALUES (?, ?, ?, ?, ?, ?, ?, NULL, 0)");
    if (!stmt) return std::move(stmt).error();
    bind(*stmt, {r.id, r.name, sha256_hex(made.key), r.key_prefix, r.tenant_id, r.created_at,
                 r.expires_at});
    ISOL8_TRY(done(stmt->get()));
    return made;
  }

  Result<std::optional<ApiKeyRecord>> authenticate(const std::string& key_hash) override {
    const std::string now = iso_timestamp_now();
    std::lock_guard lock(mutex_);
    auto stmt =
        prepare(fmt::format("SELECT {} FROM api_keys WHERE keyHash = ? AND revoked = 0 "
                            "AND expiresAt > ?",
                            kColumns));
    if (!stmt) return std::move(stmt).error();
    bind(*stmt, {key_hash, now});
    const int rc = sqlite3_step(stmt->get());
    if (rc == SQLITE_DONE) return std::optional<ApiKeyRecord>{};
    if (rc != SQLITE_ROW) return failure("reading an API key");
    ApiKeyRecord record = read_record(stmt->get());
    auto touch = prepare("UPDATE api_keys SET lastUsedAt = ? WHERE id = ?");
    if (!touch) return std::move(touch).error();
    bind(*touch, {now, record.id});
    ISOL8_TRY(done(touch->get()));
    record.last_used_at = now;
    return std::optional<ApiKeyRecord>(std::move(record));
  }

  Result<std::vector<ApiKeyRecord>> list(const std::optional<std::string>& tenant_id) override {
    std::lock_guard lock(mutex_);
    auto stmt = prepare(fmt::format("SELECT {} FROM api_keys{} ORDER BY createdAt", kColumns,
                                    tenant_id ? " WHERE tenantId = ?" : ""));
    if (!stmt) return std::move(stmt).error();
    if (tenant_id) bind(*stmt, {*tenant_id});
    std::vector<ApiKeyRecord> out;
    for (;;) {
      const int rc = sqlite3_step(stmt->get());
      if (rc == SQLITE_DONE) break;
      if (rc != SQLITE_ROW) return failure("listing API keys");
      out.push_back(read_record(stmt->get()));
    }
    return out;
  }

  Result<bool> revoke(const std::string& id) override {
    std::lock_guard lock(mutex_);
    auto stmt = prepare("UPDATE api_keys SET revoked = 1 WHERE id = ?");
    if (!stmt) return std::move(stmt).error();
    bind(*stmt, {id});
    ISOL8_TRY(done(stmt->get()));
    return sqlite3_changes(db_.get()) > 0;
  }

  Result<int64_t> remove_stale() override {
    std::lock_guard lock(mutex_);
    auto stmt = prepare("DELETE FROM api_keys WHERE revoked = 1 OR expiresAt <= ?");
    if (!stmt) return std::move(stmt).error();
    bind(*stmt, {iso_timestamp_now()});
    ISOL8_TRY(done(stmt->get()));
    return static_cast<int64_t>(sqlite3_changes(db_.get()));
  }

 private:
  Result<Stmt> prepare(const std::string& sql) {
    sqlite3_stmt* raw = nullptr;
    if (sqlite3_prepare_v2(db_.get(), sql.c_str(), -1, &raw, nullptr) != SQLITE_OK) {
      return failure("preparing a statement");
    }
    return Stmt(raw);
  }
  static void bind(Stmt& stmt, std::initializer_list<std::string> values) {
    int i = 1;
    for (const auto& v : values) {
      sqlite3_bind_text(stmt.get(), i++, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
    }
  }
  Result<void> done(sqlite3_stmt* stmt) {
    if (sqlite3_step(stmt) != SQLITE_DONE) return failure("writing the key store");
    return ok();
  }
  Error failure(std::string_view what) const {
    return make_error(fmt::format("auth DB: {}: {}", what, sqlite3_errmsg(db_.get())));
  }

  std::mutex mutex_;
  Db db_;
};

}  // namespace

Result<std::unique_ptr<KeyStore>> open_sqlite_key_store(const std::string& path) {
  std::error_code ec;
  const auto parent = std::filesystem::path(path).parent_path();
  if (!parent.empty()) std::filesystem::create_directories(parent, ec);
  sqlite3* raw = nullptr;
  const int rc =
      sqlite3_open_v2(path.c_str(), &raw,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX, nullptr);
  Db db(raw);
  if (rc != SQLITE_OK) {
    return make_error(fmt::format("cannot open the auth DB {}: {}", path,
                                  raw ? sqlite3_errmsg(raw) : sqlite3_errstr(rc)));
  }
  sqlite3_busy_timeout(db.get(), 5000);
  char* message = nullptr;
  const std::string setup =
      std::string("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;") +
      kSchema;
  if (sqlite3_exec(db.get(), setup.c_str(), nullptr, nullptr, &message) != SQLITE_OK) {
    std::string text = message ? message : "unknown error";
    sqlite3_free(message);
    return make_error(fmt::format("cannot set up the auth DB {}: {}", path, text));
  }
  return std::unique_ptr<KeyStore>(new SqliteKeyStore(std::move(db)));
}

CreatedKey new_key(const std::string& name, const std::string& tenant_id, int64_t ttl_ms) {
  const auto now = std::chrono::system_clock::now();
  CreatedKey made;
  made.key = make_api_key();
  made.record.id = make_uuid_v4();
  made.record.name = name;
  made.record.key_prefix = key_prefix(made.key);
  made.record.tenant_id = tenant_id;
  made.record.created_at = iso_time(now);
  made.record.expires_at = iso_time(now + std::chrono::milliseconds(ttl_ms));
  return made;
}

}  // namespace isol8::server
