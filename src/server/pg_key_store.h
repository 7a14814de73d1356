#pragma once

#include <memory>
#include <string>

#include "server/key_store.h"

namespace isol8::server {

// A PostgreSQL key store (libpq) for a postgres:// or postgresql:// connection string: upstream's
// api_keys table with snake_case columns, created when missing, so that several servers can
// share one database.
Result<std::unique_ptr<KeyStore>> open_pg_key_store(const std::string& connection);

}  // namespace isol8::server
