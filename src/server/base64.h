#pragma once
// Standard base64 (RFC 4648, with padding), as Node's Buffer.toString("base64") writes it.

#include <optional>
#include <string>
#include <string_view>

namespace isol8::server {

std::string base64_encode(std::string_view data);
// nullopt for text that is not base64 (padding may be left out; whitespace is not allowed).
std::optional<std::string> base64_decode(std::string_view text);

}  // namespace isol8::server
