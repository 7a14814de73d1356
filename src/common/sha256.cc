#include "common/sha256.h"

#include <nettle/memops.h>
#include <nettle/sha2.h>

#include <cstdint>

namespace isol8 {

std::string sha256(std::string_view data) {
  sha256_ctx context;
  sha256_init(&context);
  sha256_update(&context, data.size(), reinterpret_cast<const uint8_t*>(data.data()));
  uint8_t digest[SHA256_DIGEST_SIZE];
  sha256_digest(&context, sizeof digest, digest);
  return std::string(reinterpret_cast<const char*>(digest), sizeof digest);
}

std::string to_hex(std::string_view bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out += kHex[c >> 4];
    out += kHex[c & 15];
  }
  return out;
}

std::string sha256_hex(std::string_view data) { return to_hex(sha256(data)); }

bool constant_time_equal(std::string_view a, std::string_view b) {
  // The length of a digest is no secret; its bytes are compared without an early exit.
  return a.size() == b.size() && nettle_memeql_sec(a.data(), b.data(), a.size()) != 0;
}

}  // namespace isol8
