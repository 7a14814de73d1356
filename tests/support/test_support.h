#pragma once
// Helpers shared by the test tiers: run the real isol8 binary, find the probe.

#include <cstdlib>
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

// The binaries under test: the build's, unless ISOL8_TEST_BINARY / ISOL8_TEST_PROBE name copies
// (scripts/test runs the suites as an unprivileged user from a copy it can read).
inline const char* from_env_or(const char* name, const char* fallback) {
  const char* value = std::getenv(name);
  return value != nullptr && *value != '\0' ? value : fallback;
}
inline const char* const kIsol8Binary = from_env_or("ISOL8_TEST_BINARY", ISOL8_BINARY);
inline const char* const kProbeBinary = from_env_or("ISOL8_TEST_PROBE", ISOL8_PROBE);
inline const char* const kRelayBinary = from_env_or("ISOL8_TEST_RELAY", ISOL8_RELAY);
inline constexpr const char* kSourceDir = ISOL8_SOURCE_DIR;

}  // namespace isol8::test
