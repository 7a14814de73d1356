#pragma once
// Small text helpers shared by the local engine and the remote client.

#include <cctype>
#include <string>

namespace isol8 {

// `s` without trailing whitespace: upstream's trimEnd() of a result's stdout and stderr.
inline std::string trim_end(std::string s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
  return s;
}

}  // namespace isol8
