#pragma once

#include <memory>
#include <string>

#include "server/key_store.h"

namespace isol8::server {

// Opens (creating the file, its parent directory and the table) a SQLite key store in WAL mode.
Result<std::unique_ptr<KeyStore>> open_sqlite_key_store(const std::string& path);

}  // namespace isol8::server
