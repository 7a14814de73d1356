#pragma once
// The recipe scripts of the repository's rootfs/ directory, compiled into the binary at build
// time (src/rootfs/CMakeLists.txt), so that `isol8 setup` works from the build tree, from
// ./scripts/run and from an installed binary alike.

#include <string>
#include <string_view>
#include <vector>

namespace isol8::rootfs {

struct Recipe {
  std::string_view name;     // "lib", "base", "python", ...
  std::string_view content;  // the script
};

// Every embedded script, lib.sh and base.sh included.
const std::vector<Recipe>& embedded_recipes();
// The script of that name ("" when there is none).
std::string_view recipe(std::string_view name);

// sha256 (hex) of the names and contents of lib.sh, base.sh and, unless empty, <layer>.sh: what
// a root built from them depends on.
std::string recipe_hash(std::string_view layer);

// Lowercase hex sha256 of `data`.
std::string sha256_hex(std::string_view data);

}  // namespace isol8::rootfs
