#pragma once
// Helpers shared by the test tiers: run the real isol8 binary, find the probe.

#include <string>
#include <vector>

namespace isol8::test {

struct CliResult {
  int exit_code = -1;
  std::string out;
  std::string err;
  double wall_ms = 0;
};

// Runs the built isol8 binary with `args`, feeding `input` on its stdin.
CliResult run_cli(const std::vector<std::string>& args, const std::string& input = "");

inline constexpr const char* kIsol8Binary = ISOL8_BINARY;
inline constexpr const char* kProbeBinary = ISOL8_PROBE;
inline constexpr const char* kSourceDir = ISOL8_SOURCE_DIR;

}  // namespace isol8::test
