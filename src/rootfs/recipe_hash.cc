#include <algorithm>
#include <cstdint>
#include <memory>

#include "common/sha256.h"
#include "rootfs/recipes.h"

namespace isol8::rootfs {

std::string_view recipe(std::string_view name) {
  for (const auto& r : embedded_recipes()) {
    if (r.name == name) return r.content;
  }
  return {};
}

std::string sha256_hex(std::string_view data) { return isol8::sha256_hex(data); }

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
