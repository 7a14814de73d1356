#pragma once
// Docker-style size strings: "512m", "1g", "256k", "1048576", "1.5g", optional "b", binary units.

#include <cstdint>
#include <string_view>

#include "isol8/result.h"

namespace isol8 {

// Fails with `Invalid memory limit format: "<x>". Use e.g. "512m", "1g".`
Result<uint64_t> parse_size(std::string_view text);

}  // namespace isol8
