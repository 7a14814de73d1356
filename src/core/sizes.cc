#include "core/sizes.h"

#include <cmath>
#include <regex>
#include <string>

#include <fmt/format.h>

namespace isol8 {

Result<uint64_t> parse_size(std::string_view text) {
  static const std::regex kPattern(R"(^(\d+(?:\.\d+)?)\s*([kmgt]?)b?$)", std::regex::icase);
  const std::string s(text);
  std::smatch m;
  auto invalid = [&] {
    return make_error(
        fmt::format("Invalid memory limit format: \"{}\". Use e.g. \"512m\", \"1g\".", s));
  };
  if (!std::regex_match(s, m, kPattern)) return invalid();
  const double number = std::stod(m[1].str());
  int shift = 0;
  switch (m[2].str().empty() ? ' ' : static_cast<char>(std::tolower(m[2].str()[0]))) {
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
  const double bytes = std::floor(number * std::ldexp(1.0, shift));
  if (!std::isfinite(bytes) || bytes < 1 || bytes > 9.0e18) return invalid();
  return static_cast<uint64_t>(bytes);
}

}  // namespace isol8
