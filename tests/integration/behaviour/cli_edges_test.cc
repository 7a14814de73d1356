// The CLI's edges on every backend: limits above the host warn and run, the largest time limit
// runs normally, and --json prints JSON whatever happens.

#include <nlohmann/json.hpp>

#include "support/test_support.h"

namespace isol8::test {
namespace {

using nlohmann::json;

class CliEdges : public CliBackendTest {};

TEST_P(CliEdges, MemoryAboveTheHostWarnsAndRuns) {
  const CliRun r = cli().run({"run", "--memory", "1t", "-e", "print('ran')"});
  EXPECT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_EQ(r.out, "ran\n");
  EXPECT_TRUE(contains(r.err, "[WARN] the memory limit 1t is more than this host's memory ("))
      << describe(r);
}

// The largest time limit is usable: no overflow on the way to the kernel or the daemon.
TEST_P(CliEdges, TheLargestTimeoutRunsNormally) {
  const CliRun r = cli().run({"run", "--timeout", "86400000", "-e", "print('ran')"});
  EXPECT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_EQ(r.out, "ran\n");
}

TEST_P(CliEdges, JsonOnAFailingSetupScriptIsAnErrorObject) {
  const CliRun r = cli().run(
      {"run", "--json", "--setup", "echo broken >&2; exit 3", "-e", "print('should not run')"});
  EXPECT_EQ(r.exit_code, 1) << describe(r);
  const json j = json::parse(r.out, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << describe(r);
  // Through a server, upstream's remote client names the call that failed.
  const std::string message = std::string(is_remote() ? "Execution failed: " : "") +
                              "Setup script failed (exit code 3): broken";
  EXPECT_EQ(j, (json{{"error", message}})) << describe(r);
  EXPECT_TRUE(contains(r.err, "[ERR] " + message)) << describe(r);
}

TEST_P(CliEdges, JsonOnAFailingRunIsStillTheResult) {
  const CliRun r = cli().run({"run", "--json", "-e", "import sys; sys.exit(5)"});
  EXPECT_EQ(r.exit_code, 5) << describe(r);
  const json j = json::parse(r.out, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << describe(r);
  EXPECT_EQ(j["exitCode"], 5) << j.dump();
}

ISOL8_CLI_SUITE(CliEdges);

}  // namespace
}  // namespace isol8::test
