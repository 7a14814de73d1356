#include "core/sizes.h"

#include <cctype>
#include <charconv>
#include <cmath>

#include <fmt/format.h>

namespace isol8 {

namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_space(char c) { return c == ' ' || (c >= '\t' && c <= '\r'); }

}  // namespace

// The grammar of upstream's /^(\d+(?:\.\d+)?)\s*([kmgt]?)b?$/i, parsed by hand: std::regex
// recursed once per character, and a long value (100k digits, from a config file or a library
// caller) overflowed the stack.
Result<uint64_t> parse_size(std::string_view text) {
  auto invalid = [&] {
    return make_error(
        fmt::format("Invalid memory limit format: \"{}\". Use e.g. \"512m\", \"1g\".", text));
  };
  size_t i = 0;
  auto skip_digits = [&] {
    const size_t from = i;
    while (i < text.size() && is_digit(text[i])) ++i;
    return i > from;
  };
  if (!skip_digits()) return invalid();
  if (i < text.size() && text[i] == '.') {
    ++i;
    if (!skip_digits()) return invalid();
  }
  const std::string_view digits = text.substr(0, i);
  while (i < text.size() && is_space(text[i])) ++i;
  int shift = 0;
  if (i < text.size()) {
    switch (std::tolower(static_cast<unsigned char>(text[i]))) {
      case 'k':
        shift = 10;
        break;
      case 'm':
        shift = 20;
        break;
      case 'g':
        shift = 30;
        break;
      case 't':
        shift = 40;
        break;
      default:
        break;
    }
    if (shift != 0) ++i;
  }
  if (i < text.size() && (text[i] == 'b' || text[i] == 'B')) ++i;
  if (i != text.size()) return invalid();
  double number = 0;
  const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), number);
  if (ec != std::errc() || end != digits.data() + digits.size()) return invalid();
  const double bytes = std::floor(number * static_cast<double>(uint64_t{1} << shift));
  if (!std::isfinite(bytes) || bytes < 1 || bytes > 9.0e18) return invalid();
  return static_cast<uint64_t>(bytes);
}

}  // namespace isol8
