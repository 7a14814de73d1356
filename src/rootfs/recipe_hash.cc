#include <nettle/sha2.h>

#include <algorithm>
#include <cstdint>
#include <memory>

#include "rootfs/recipes.h"

namespace isol8::rootfs {

std::string_view recipe(std::string_view name) {
  for (const auto& r : embedded_recipes()) {
    if (r.name == name) return r.content;
  }
  return {};
}

std::string sha256_hex(std::string_view data) {
  // Nettle rather than OpenSSL: it links statically and keeps libcrypto out of the CLI's start-up
  // (cmake/dependencies.cmake).
  sha256_ctx context;
  sha256_init(&context);
  sha256_update(&context, data.size(), reinterpret_cast<const uint8_t*>(data.data()));
  uint8_t digest[SHA256_DIGEST_SIZE];
  sha256_digest(&context, sizeof digest, digest);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (std::size_t i = 0; i < sizeof digest; ++i) {
    out += kHex[digest[i] >> 4];
    out += kHex[digest[i] & 15];
  }
  return out;
}

std::string recipe_hash(std::string_view layer) {
  std::string input;
  for (std::string_view name : {std::string_view("lib"), std::string_view("base"), layer}) {
    if (name.empty()) continue;
    const std::string_view text = recipe(name);
    // Length-prefixed, so that moving text between names changes the hash.
    input += std::string(name) + ".sh\n" + std::to_string(text.size()) + "\n";
    input += text;
  }
  return sha256_hex(input);
}

}  // namespace isol8::rootfs
