#pragma once
// The cryptography of API keys: random keys, their SHA-256 (what the stores keep), and comparing
// secrets in constant time (OpenSSL).

#include <chrono>
#include <string>
#include <string_view>

namespace isol8::server {

// "isol8_" + 64 lowercase hex digits from 32 CSPRNG bytes (upstream's format).
std::string make_api_key();
// Lowercase hex SHA-256 of the text.
std::string sha256_hex(std::string_view text);
// Equal contents, in time independent of where they differ and of the secret's length (both are
// hashed first, then compared with CRYPTO_memcmp).
bool constant_time_equal(std::string_view a, std::string_view b);
// "isol8_3fa1..." (upstream's keyPrefix: the first 10 characters and "...").
std::string key_prefix(std::string_view key);
// ISO 8601 UTC with milliseconds, as upstream's new Date().toISOString().
std::string iso_time(std::chrono::system_clock::time_point t);

}  // namespace isol8::server
