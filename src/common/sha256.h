#pragma once
// SHA-256 (Nettle: it links statically and keeps libcrypto out of the CLI's start-up,
// cmake/dependencies.cmake) and a comparison of secrets that takes the same time wherever they
// differ.

#include <string>
#include <string_view>

namespace isol8 {

// The 32-byte digest of `data`.
std::string sha256(std::string_view data);
// The same in lower-case hex (64 characters).
std::string sha256_hex(std::string_view data);
// Lower-case hex of any bytes.
std::string to_hex(std::string_view bytes);
// Equal length and bytes, in time that depends only on the length (Nettle's memeql_sec).
bool constant_time_equal(std::string_view a, std::string_view b);

}  // namespace isol8
