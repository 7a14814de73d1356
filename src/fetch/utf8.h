#pragma once
// Strict UTF-8, as a fatal TextDecoder("utf-8") decides it: no overlong forms, no surrogates,
// nothing above U+10FFFF, no truncated sequence.

#include <string_view>

namespace isol8::fetch {

bool is_strict_utf8(std::string_view text);

}  // namespace isol8::fetch
