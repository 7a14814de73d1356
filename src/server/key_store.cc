#include "server/key_store.h"

#include "server/pg_key_store.h"
#include "server/sqlite_key_store.h"

namespace isol8::server {

Result<std::unique_ptr<KeyStore>> open_key_store(const std::string& connection) {
  if (connection.rfind("postgres://", 0) == 0 || connection.rfind("postgresql://", 0) == 0) {
    return open_pg_key_store(connection);
  }
  return open_sqlite_key_store(connection);
}

}  // namespace isol8::server
