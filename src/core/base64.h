#pragma once
// Standard base64 (RFC 4648, with padding), the encoding of file contents on upstream's wire
// (ExecutionResult.files, the server's /file). Nettle does the work.

#include <optional>
#include <string>
#include <string_view>

namespace isol8 {

std::string base64_encode(std::string_view bytes);
// nullopt when `text` is not base64 (whitespace is ignored, as nettle does).
std::optional<std::string> base64_decode(std::string_view text);

}  // namespace isol8
