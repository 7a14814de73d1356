// The resource limits, on every backend: memory (an OOM kill is exit 137 with the marker and
// status "oom"), pids, and the result's record of what was enforced.

#include "support/test_support.h"

namespace isol8::test {
namespace {

using nlohmann::json;

class Limits : public CliBackendTest {};

TEST_P(Limits, MemoryBeyondTheLimitIsAnOomKill) {
  ISOL8_REQUIRE_LIMITS();
  const CliRun r = cli().run({"run", "--memory", "64m", "-e", "x = bytearray(300 << 20)"});
  EXPECT_EQ(r.exit_code, 137) << describe(r);
  EXPECT_TRUE(rtrim(r.err).ends_with("--- OUT OF MEMORY (limit 64m) ---")) << describe(r);
}

TEST_P(Limits, OomInJson) {
  ISOL8_REQUIRE_LIMITS();
  const CliRun r =
      cli().run({"run", "--json", "--memory", "64m", "-e", "x = bytearray(300 << 20)"});
  EXPECT_EQ(r.exit_code, 137) << describe(r);
  const json j = json::parse(r.out, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << r.out;
  EXPECT_EQ(j["status"], "oom");
  EXPECT_EQ(j["oomKilled"], true);
  EXPECT_EQ(j["exitCode"], 137);
}

TEST_P(Limits, MemoryWithinTheLimitIsNoOom) {
  const CliRun r = cli().run(
      {"run", "--json", "--memory", "256m", "-e", "x = bytearray(32 << 20); print(len(x) >> 20)"});
  EXPECT_EQ(r.exit_code, 0) << describe(r);
  const json j = json::parse(r.out, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << r.out;
  EXPECT_EQ(j["stdout"], "32");
  EXPECT_EQ(j["status"], "ok");
  EXPECT_EQ(j["oomKilled"], false);
}

TEST_P(Limits, PidsLimitStopsForking) {
  ISOL8_REQUIRE_LIMITS();
  // Forks until the kernel refuses (EAGAIN), then reports how many children it got.
  const CliRun r = cli().run({"run", "--pids-limit", "16", "-e",
                              "import os, time\n"
                              "n = 0\n"
                              "for i in range(100):\n"
                              "    try:\n"
                              "        if os.fork() == 0:\n"
                              "            time.sleep(30); os._exit(0)\n"
                              "        n += 1\n"
                              "    except OSError as e:\n"
                              "        print('refused', e.errno); break\n"
                              "print('children', n)\n"
                              "os.kill(0, 9)\n"});
  EXPECT_TRUE(contains(r.out, "refused 11\n")) << describe(r);
  EXPECT_FALSE(contains(r.out, "children 100")) << describe(r);
}

TEST_P(Limits, JsonRecordsTheEnforcedLimitsAndWallTime) {
  ISOL8_REQUIRE_LIMITS();
  const CliRun r = cli().run({"run", "--json", "-e", "import time; time.sleep(0.2)"});
  EXPECT_EQ(r.exit_code, 0) << describe(r);
  const json j = json::parse(r.out, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << r.out;
  std::vector<std::string> enforced = j["limits"]["enforced"];
  std::sort(enforced.begin(), enforced.end());
  EXPECT_EQ(enforced, (std::vector<std::string>{"cpu", "memory", "pids"})) << j;
  EXPECT_TRUE(j["limits"]["notEnforced"].empty()) << j;
  EXPECT_GE(j["resourceUsage"]["wallMs"].get<int64_t>(), 200) << j;
  if (!is_docker()) {
    // From the run's cgroup and the sandbox's rusage.
    EXPECT_GT(j["resourceUsage"]["peakMemoryBytes"].get<uint64_t>(), 0u) << j;
    EXPECT_TRUE(j["resourceUsage"]["cpuUserMs"].is_number()) << j;
  } else {
    // The docker backend measures wall time only (README: result record): the rest is unknown,
    // and says so, rather than a zero that would claim nothing was used.
    for (const char* key : {"cpuUserMs", "cpuSystemMs", "peakMemoryBytes", "peakMemoryMB"}) {
      EXPECT_TRUE(j["resourceUsage"][key].is_null()) << key << ": " << j;
    }
  }
}

ISOL8_CLI_SUITE(Limits);

}  // namespace
}  // namespace isol8::test
