// The CLI's edges a new user hits first: numbers and sizes out of their stated ranges (flags and
// the config file), no code given, --json printing JSON whatever happens, warnings for limits
// above the host, `config`'s layout and the help's "Commands:".

#include <unistd.h>

#include <nlohmann/json.hpp>

#include "support/test_support.h"

namespace isol8::test {
namespace {

using nlohmann::json;

// Refusals happen before any sandbox exists: the same on every backend, so run once.
class NativeCliEdges : public LeakCheckedTest {};

struct RangeCase {
  const char* name;
  std::vector<std::string> flag;  // the flag and its value
  const char* message;            // the whole [ERR] message
};

void PrintTo(const RangeCase& c, std::ostream* os) { *os << c.name; }

class NativeCliRanges : public LeakCheckedTest, public ::testing::WithParamInterface<RangeCase> {
 protected:
  std::vector<std::string> args(std::vector<std::string> extra = {}) const {
    std::vector<std::string> a = {"run"};
    a.insert(a.end(), extra.begin(), extra.end());
    a.insert(a.end(), GetParam().flag.begin(), GetParam().flag.end());
    a.insert(a.end(), {"-e", "print('should not run')"});
    return a;
  }
};

TEST_P(NativeCliRanges, RefusedNamingTheFlagAndTheValue) {
  const CliRun r = cli().run(args());
  EXPECT_EQ(r.exit_code, 1) << describe(r);
  EXPECT_EQ(without_warnings(r.err), std::string("[ERR] ") + GetParam().message + "\n");
  EXPECT_TRUE(r.out.empty()) << describe(r);
}

TEST_P(NativeCliRanges, WithJsonTheErrorIsAJsonObjectOnStdout) {
  const CliRun r = cli().run(args({"--json"}));
  EXPECT_EQ(r.exit_code, 1) << describe(r);
  const json j = json::parse(r.out, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << describe(r);
  EXPECT_EQ(j, (json{{"error", GetParam().message}})) << describe(r);
  EXPECT_EQ(without_warnings(r.err), std::string("[ERR] ") + GetParam().message + "\n");
}

INSTANTIATE_TEST_SUITE_P(
    Flags, NativeCliRanges,
    ::testing::Values(
        RangeCase{"TimeoutText",
                  {"--timeout", "abc"},
                  "--timeout must be a positive integer "
                  "number of milliseconds, at most 86400000 (24 hours): got \"abc\""},
        RangeCase{"TimeoutNegative",
                  {"--timeout", "-5"},
                  "--timeout must be a positive integer "
                  "number of milliseconds, at most 86400000 (24 hours): got \"-5\""},
        RangeCase{"TimeoutZero",
                  {"--timeout", "0"},
                  "--timeout must be a positive integer "
                  "number of milliseconds, at most 86400000 (24 hours): got \"0\""},
        // Used to overflow the nanosecond count and time out after 29 ms.
        RangeCase{"TimeoutHuge",
                  {"--timeout", "9300000000000"},
                  "--timeout must be a positive "
                  "integer number of milliseconds, at most 86400000 (24 hours): got "
                  "\"9300000000000\""},
        RangeCase{"TimeoutFraction",
                  {"--timeout", "1.5"},
                  "--timeout must be a positive "
                  "integer number of milliseconds, at most 86400000 (24 hours): got \"1.5\""},
        // Used to be accepted and OOM at once.
        RangeCase{"MemoryTiny",
                  {"--memory", "1k"},
                  "--memory must be at least 6m (the smallest limit Docker accepts): got \"1k\""},
        // Used to be accepted silently.
        RangeCase{"MemoryHuge", {"--memory", "999t"}, "--memory must be at most 1t: got \"999t\""},
        RangeCase{"MemoryText",
                  {"--memory", "lots"},
                  "--memory: Invalid memory limit format: \"lots\". Use e.g. \"512m\", \"1g\"."},
        // Used to fail with a cgroup write error.
        RangeCase{"CpuHuge",
                  {"--cpu", "1e9"},
                  "--cpu must be a number of CPUs from 0.01 to 1024: got \"1e9\""},
        RangeCase{"CpuTiny",
                  {"--cpu", "0.001"},
                  "--cpu must be a number of CPUs from 0.01 to 1024: got \"0.001\""},
        RangeCase{"CpuText",
                  {"--cpu", "two"},
                  "--cpu must be a number of CPUs from 0.01 to 1024: got \"two\""},
        RangeCase{"PidsZero",
                  {"--pids-limit", "0"},
                  "--pids-limit must be a positive integer "
                  "number of processes, at most 4194304: got \"0\""},
        RangeCase{"PidsHuge",
                  {"--pids-limit", "99999999"},
                  "--pids-limit must be a positive "
                  "integer number of processes, at most 4194304: got \"99999999\""},
        RangeCase{"SandboxSizeTiny",
                  {"--sandbox-size", "10k"},
                  "--sandbox-size must be from 1m to 1t: got \"10k\""},
        RangeCase{"SandboxSizeText",
                  {"--sandbox-size", "huge"},
                  "--sandbox-size must be a size such as \"512m\" or \"1g\": got \"huge\""},
        RangeCase{
            "TmpSizeHuge", {"--tmp-size", "2t"}, "--tmp-size must be from 1m to 1t: got \"2t\""},
        RangeCase{"MaxOutputZero",
                  {"--max-output", "0"},
                  "--max-output must be a positive "
                  "integer number of bytes, at most 1073741824 (1 GiB): got \"0\""},
        RangeCase{"MaxOutputHuge",
                  {"--max-output", "5000000000"},
                  "--max-output must be a "
                  "positive integer number of bytes, at most 1073741824 (1 GiB): got "
                  "\"5000000000\""},
        RangeCase{"BadNet",
                  {"--net", "bridge"},
                  "Invalid --net value: \"bridge\". Expected one of: none, host, filtered"},
        RangeCase{"BadBackend",
                  {"--backend", "vm"},
                  "Invalid --backend value: \"vm\". Expected one of: native, docker"}),
    [](const auto& info) { return info.param.name; });

// The same ranges in the config file: the message names the file and the key.
TEST_F(NativeCliEdges, ConfigValuesOutOfRangeNameTheFileAndTheKey) {
  const std::vector<std::pair<json, std::string>> cases = {
      {{{"defaults", {{"timeoutMs", 9300000000000}}}},
       "\"defaults.timeoutMs\" must be a positive integer number of milliseconds, at most "
       "86400000 (24 hours): got \"9300000000000\""},
      {{{"defaults", {{"memoryLimit", "1k"}}}},
       "\"defaults.memoryLimit\" must be at least 6m (the smallest limit Docker accepts): got "
       "\"1k\""},
      {{{"defaults", {{"cpuLimit", 1e9}}}},
       "\"defaults.cpuLimit\" must be a number of CPUs from 0.01 to 1024: got \"1000000000.0\""},
      {{{"defaults", {{"pidsLimit", -1}}}},
       "\"defaults.pidsLimit\" must be a positive integer number of processes, at most 4194304: "
       "got \"-1\""},
      {{{"defaults", {{"tmpSize", "2t"}}}},
       "\"defaults.tmpSize\" must be from 1m to 1t: got \"2t\""},
      {{{"defaults", {{"maxOutputSize", 0}}}},
       "\"defaults.maxOutputSize\" must be a positive integer number of bytes, at most 1073741824 "
       "(1 GiB): got \"0\""},
  };
  for (const auto& [config, message] : cases) {
    IsolatedCli dir;
    const std::string path = dir.dir().file("isol8.config.json");
    ASSERT_TRUE(spit(path, config.dump()));
    const std::string expected = "Invalid config in " + path + ": " + message;
    const CliRun r = dir.run({"run", "-e", "print('should not run')"});
    EXPECT_EQ(r.exit_code, 1) << describe(r);
    EXPECT_EQ(without_warnings(r.err), "[ERR] " + expected + "\n");
    EXPECT_TRUE(r.out.empty()) << describe(r);
    // --json: the config error too is JSON on stdout.
    const CliRun j = dir.run({"run", "--json", "-e", "print('should not run')"});
    EXPECT_EQ(j.exit_code, 1) << describe(j);
    EXPECT_EQ(json::parse(j.out, nullptr, false), (json{{"error", expected}})) << describe(j);
  }
}

// ---- no code given: the CLI says what to do (the library keeps upstream's message)

constexpr const char* kNoCode = "no code to run: give -e, a file, --cmd, or pipe code on stdin";

TEST_F(NativeCliEdges, NoCodeSaysWhatToDo) {
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"run", "-e", ""}, std::vector<std::string>{"run", "-e", " \n"},
        std::vector<std::string>{"run", "--cmd", ""}, std::vector<std::string>{"run"},
        std::vector<std::string>{"run", "-r", "node"}}) {
    const CliRun r = cli().run(args);  // stdin: empty
    EXPECT_EQ(r.exit_code, 1) << describe(r);
    EXPECT_EQ(without_warnings(r.err), std::string("[ERR] ") + kNoCode + "\n") << describe(r);
    EXPECT_TRUE(r.out.empty());
  }
  const CliRun blank_stdin = cli().run({"run"}, "  \n\n");
  EXPECT_EQ(without_warnings(blank_stdin.err), std::string("[ERR] ") + kNoCode + "\n");
  const CliRun j = cli().run({"run", "--json", "-e", ""});
  EXPECT_EQ(j.exit_code, 1) << describe(j);
  EXPECT_EQ(json::parse(j.out, nullptr, false), (json{{"error", kNoCode}})) << describe(j);
}

// ---- the help and `config`

TEST_F(NativeCliEdges, HelpListsCommandsAsUpstreamDoes) {
  const CliRun r = cli().run({"--help"});
  EXPECT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_TRUE(contains(r.out, "\nCommands:\n")) << r.out;
  EXPECT_FALSE(contains(r.out, "Subcommands")) << r.out;
  // Every command, so that none is lost from the table of names that decides which ones a
  // command line registers (main.cc).
  for (const char* command :
       {"  run", "  config", "  doctor", "  setup", "  cleanup", "  build", "  list-custom",
        "  rootfs", "  login", "  logout", "  session", "  serve"}) {
    EXPECT_TRUE(contains(r.out, command)) << command << "\n" << r.out;
  }
}

TEST_F(NativeCliEdges, AnUnknownCommandIsRefusedWithTheHelpsPointer) {
  const CliRun r = cli().run({"bogus"});
  EXPECT_EQ(r.exit_code, 1) << describe(r);
  EXPECT_EQ(r.err, "[ERR] The following argument was not expected: bogus (see isol8 --help)\n")
      << describe(r);
}

TEST_F(NativeCliEdges, RunHelpStatesTheRanges) {
  const CliRun r = cli().run({"run", "--help"});
  EXPECT_EQ(r.exit_code, 0) << describe(r);
  for (const char* range :
       {"1 to 86400000", "6m to 1t", "0.01 to 1024", "1 to 4194304", "1 to 1073741824"}) {
    EXPECT_TRUE(contains(r.out, range)) << range << "\n" << r.out;
  }
}

TEST_F(NativeCliEdges, ConfigHasUpstreamsLayout) {
  IsolatedCli bare;
  const CliRun r = bare.run({"config"});
  EXPECT_EQ(r.exit_code, 0) << describe(r);
  // The headings in upstream's order, each line as upstream pads it.
  const std::vector<std::string> in_order = {
      "\nIsol8 Configuration\n\n",
      "  Source: defaults (no config file found)\n",
      "\n  ── General ──\n  Max concurrent:  10\n",
      "\n  ── Defaults ──\n  Timeout:         30000ms\n  Memory limit:    512m\n"
      "  CPU limit:       1\n  Network:         none\n  Sandbox size:    512m\n"
      "  Tmp size:        256m\n",
      "\n  ── Network Filter ──\n  Whitelist:       (none)\n",
      "\n  ── Remote Code ──\n  Enabled:         no\n  Schemes:         https\n",
      "  Blacklist:       (none)\n",
      "\n  ── Cleanup ──\n  Auto-prune:      yes\n  Max idle time:   3600000ms (60min)\n",
      "\n  ── Pool Defaults (Serve) ──\n  Pool strategy:   fast\n  Pool size:       1,1\n",
      "\n  ── Dependencies ──\n  (none configured)\n\n",
  };
  size_t at = 0;
  for (const std::string& part : in_order) {
    const size_t found = r.out.find(part, at);
    ASSERT_NE(found, std::string::npos) << "missing (in this order): " << part << "\n" << r.out;
    at = found + part.size();
  }
  EXPECT_TRUE(r.out.ends_with("  (none configured)\n\n")) << r.out;
}

TEST_F(NativeCliEdges, ConfigShowsTheFileAndItsValues) {
  IsolatedCli dir;
  const std::string path = dir.dir().file("isol8.config.json");
  ASSERT_TRUE(spit(path, R"({"defaults": {"cpuLimit": 0.5, "memoryLimit": "1g"},
                            "network": {"whitelist": ["^a\\.com$", "^b\\.org$"]},
                            "poolSize": 3})"));
  const CliRun r = dir.run({"config"});
  EXPECT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_TRUE(contains(r.out, "  Source: " + path + "\n")) << r.out;
  EXPECT_TRUE(contains(r.out, "  CPU limit:       0.5\n")) << r.out;
  EXPECT_TRUE(contains(r.out, "  Memory limit:    1g\n")) << r.out;
  EXPECT_TRUE(contains(r.out, "  Whitelist:       ^a\\.com$, ^b\\.org$\n")) << r.out;
  EXPECT_TRUE(contains(r.out, "  Pool size:       3\n")) << r.out;
}

// ---- limits above the host are allowed, with a warning

TEST_F(NativeCliEdges, CpuAboveTheHostsCpusWarns) {
  const long cpus = ::sysconf(_SC_NPROCESSORS_ONLN);
  ASSERT_GT(cpus, 0);
  const CliRun r = cli().run({"run", "--cpu", std::to_string(cpus + 1), "-e", "print('ran')"});
  EXPECT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_EQ(r.out, "ran\n");
  EXPECT_TRUE(contains(r.err, "[WARN] the CPU limit " + std::to_string(cpus + 1) +
                                  " is more than this host's " + std::to_string(cpus) + " CPUs"))
      << describe(r);
}

}  // namespace
}  // namespace isol8::test
