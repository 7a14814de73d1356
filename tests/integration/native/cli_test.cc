// The isol8 CLI where no sandbox runs (the same on every backend): files that do not exist or
// have no known extension, conflicting code sources, the parser, help/version and `config`.

#include <regex>

#include "support/test_support.h"

namespace isol8::test {
namespace {

using nlohmann::json;

// Parser, help and config: the same whatever the backend (no sandbox runs).
class NativeCli : public LeakCheckedTest {
 protected:
  std::string write_script(const std::string& name, const std::string& content) const {
    const std::string path = cli().dir().file(name);
    EXPECT_TRUE(spit(path, content)) << path;
    return path;
  }
};

TEST_F(NativeCli, MissingFile) {
  const std::string path = cli().dir().file("does-not-exist.py");
  const CliRun r = cli().run({"run", path});
  EXPECT_EQ(r.exit_code, 1) << describe(r);
  EXPECT_EQ(without_warnings(r.err), "[ERR] File not found: " + path + "\n");
  EXPECT_TRUE(r.out.empty());
}

TEST_F(NativeCli, DirectoryIsNotAFile) {
  const CliRun r = cli().run({"run", cli().dir().path()});
  EXPECT_EQ(r.exit_code, 1) << describe(r);
  EXPECT_TRUE(contains(r.err, "[ERR] File not found: ")) << describe(r);
}

TEST_F(NativeCli, UnknownExtension) {
  const std::string path = write_script("notes.xyz", "print(1)\n");
  const CliRun r = cli().run({"run", path});
  EXPECT_EQ(r.exit_code, 1) << describe(r);
  EXPECT_EQ(without_warnings(r.err),
            "[ERR] Cannot detect runtime for " + path + ". Use --runtime to specify.\n");
  EXPECT_TRUE(r.out.empty());
}

TEST_F(NativeCli, CmdWithEvalIsTheUpstreamError) {
  const CliRun r = cli().run({"run", "--cmd", "echo x", "-e", "print(1)"});
  EXPECT_EQ(r.exit_code, 1) << describe(r);
  EXPECT_EQ(without_warnings(r.err),
            "[ERR] --cmd cannot be combined with file input, --eval, --url, --github, or "
            "--gist.\n");
  EXPECT_TRUE(r.out.empty());
}

TEST_F(NativeCli, HostPatternRe2CannotCompileIsRefusedBeforeAnyRun) {
  for (const auto& [flag, pattern] :
       {std::pair<std::string, std::string>{"--allow", "^(?=api)"}, {"--deny", R"(^(a)\1$)"}}) {
    const CliRun r = cli().run({"run", "--net", "filtered", flag, pattern, "-e", "print('ran')"});
    EXPECT_EQ(r.exit_code, 1) << describe(r);
    EXPECT_TRUE(without_warnings(r.err).starts_with("[ERR] Invalid " + flag + " pattern \"" +
                                                    pattern + "\": "))
        << describe(r);
    EXPECT_TRUE(contains(r.err, "Host patterns are RE2 regular expressions")) << describe(r);
    EXPECT_TRUE(r.out.empty()) << describe(r);
  }
}

TEST_F(NativeCli, CmdWithFileIsTheUpstreamError) {
  const std::string path = write_script("a.py", "print(1)\n");
  const CliRun r = cli().run({"run", "--cmd", "echo x", path});
  EXPECT_EQ(r.exit_code, 1) << describe(r);
  EXPECT_TRUE(contains(r.err, "[ERR] --cmd cannot be combined with file input")) << describe(r);
}

// ---- parser behaviour

TEST_F(NativeCli, UnknownFlagIsAnError) {
  const CliRun r = cli().run({"run", "--no-such-flag", "-e", "print('ran')"});
  EXPECT_EQ(r.exit_code, 1) << describe(r);
  EXPECT_TRUE(without_warnings(r.err).starts_with("[ERR] ")) << describe(r);
  EXPECT_TRUE(contains(r.err, "--no-such-flag")) << describe(r);
  EXPECT_FALSE(contains(r.out, "ran"));
}

TEST_F(NativeCli, UnknownSubcommandIsAnError) {
  const CliRun r = cli().run({"frobnicate"});
  EXPECT_NE(r.exit_code, 0) << describe(r);
  EXPECT_EQ(r.term_signal, 0);
}

TEST_F(NativeCli, NoArgumentsPrintsHelpAndExits0) {
  const CliRun r = cli().run({});
  EXPECT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_TRUE(contains(r.out, "run")) << r.out;
  EXPECT_TRUE(contains(r.out, "config")) << r.out;
  EXPECT_TRUE(contains(r.out, "Usage")) << r.out;
}

TEST_F(NativeCli, HelpListsTheRunFlags) {
  const CliRun r = cli().run({"run", "--help"});
  EXPECT_EQ(r.exit_code, 0) << describe(r);
  for (const char* flag : {"--eval", "--cmd", "--runtime", "--net", "--timeout", "--max-output",
                           "--secret", "--stdin", "--workdir", "--out", "--no-stream", "--json"}) {
    EXPECT_TRUE(contains(r.out, flag)) << flag;
  }
}

TEST_F(NativeCli, Version) {
  const CliRun r = cli().run({"--version"});
  EXPECT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_TRUE(std::regex_match(r.out, std::regex(R"(\d+\.\d+\.\d+\S*\n)"))) << r.out;
}

TEST_F(NativeCli, UnsupportedUpstreamFlagIsAClearError) {
  const CliRun r = cli().run({"run", "--agent-flags", "x", "-e", "print(1)"});
  EXPECT_EQ(r.exit_code, 1) << describe(r);
  EXPECT_TRUE(contains(r.err, "--agent-flags is not supported yet")) << describe(r);
}

// ---- config

TEST_F(NativeCli, ConfigWithoutAFileShowsDefaults) {
  IsolatedCli bare;  // no config file at all
  const CliRun r = bare.run({"config"});
  EXPECT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_TRUE(contains(r.out, "  Source: defaults (no config file found)")) << r.out;
  EXPECT_TRUE(contains(r.out, "30000ms")) << r.out;
  EXPECT_TRUE(contains(r.out, "512m")) << r.out;
  EXPECT_TRUE(contains(r.out, "1000000")) << r.out;
}

TEST_F(NativeCli, ConfigShowsTheCwdFile) {
  IsolatedCli dir;
  ASSERT_TRUE(spit(dir.dir().file("isol8.config.json"),
                   R"({"defaults": {"timeoutMs": 12345, "memoryLimit": "1g"}})"));
  const CliRun r = dir.run({"config"});
  EXPECT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_TRUE(contains(r.out, "  Source: " + dir.dir().file("isol8.config.json"))) << r.out;
  EXPECT_TRUE(contains(r.out, "12345ms")) << r.out;
  EXPECT_TRUE(contains(r.out, "1g")) << r.out;
}

TEST_F(NativeCli, ConfigJson) {
  IsolatedCli dir;
  ASSERT_TRUE(spit(dir.dir().file("isol8.config.json"), R"({"defaults": {"timeoutMs": 4321}})"));
  const CliRun r = dir.run({"config", "--json"});
  EXPECT_EQ(r.exit_code, 0) << describe(r);
  const json j = json::parse(r.out, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << r.out;
  EXPECT_EQ(j["defaults"]["timeoutMs"], 4321);
  EXPECT_EQ(j["defaults"]["memoryLimit"], "512m");  // merged with the defaults
  EXPECT_EQ(j["defaults"]["network"], "none");
  EXPECT_EQ(j["maxConcurrent"], 10);

  IsolatedCli bare;
  const CliRun d = bare.run({"config", "--json"});
  const json jd = json::parse(d.out, nullptr, false);
  ASSERT_FALSE(jd.is_discarded()) << d.out;
  EXPECT_EQ(jd["defaults"]["timeoutMs"], 30000);
}

TEST_F(NativeCli, ConfigFromHomeWhenTheCwdHasNone) {
  IsolatedCli dir;
  std::filesystem::create_directories(dir.dir().file(".isol8"));
  ASSERT_TRUE(spit(dir.dir().file(".isol8/config.json"), R"({"defaults": {"timeoutMs": 777}})"));
  const CliRun r = dir.run({"config", "--json"});
  EXPECT_EQ(r.exit_code, 0) << describe(r);
  const json j = json::parse(r.out, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << r.out;
  EXPECT_EQ(j["defaults"]["timeoutMs"], 777);
}

TEST_F(NativeCli, ConfigTimeoutApplies) {
  IsolatedCli dir;
  ASSERT_TRUE(
      spit(dir.dir().file("isol8.config.json"),
           nlohmann::json{{"defaults", {{"timeoutMs", 500}}}, {"native", {{"idMapBase", base()}}}}
               .dump()));
  const CliRun r = dir.run({"run", "-e", "import time; time.sleep(30)"});
  EXPECT_EQ(r.exit_code, 137) << describe(r);
  EXPECT_TRUE(contains(r.err, "--- EXECUTION TIMED OUT ---")) << describe(r);
}

struct BadConfig {
  const char* name;
  const char* content;
  const char* key;  // what the message must name
};

// Test names in ctest show the case name instead of the struct's bytes.
void PrintTo(const BadConfig& c, std::ostream* os) { *os << c.name; }

class NativeCliBadConfig : public NativeCli, public ::testing::WithParamInterface<BadConfig> {};

TEST_P(NativeCliBadConfig, FailsNamingTheFileAndKey) {
  IsolatedCli dir;
  const std::string path = dir.dir().file("isol8.config.json");
  ASSERT_TRUE(spit(path, GetParam().content));
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"config"},
        std::vector<std::string>{"run", "-e", "print('ran')"}}) {
    const CliRun r = dir.run(args);
    EXPECT_EQ(r.exit_code, 1) << args[0] << ": " << describe(r);
    EXPECT_TRUE(without_warnings(r.err).starts_with("[ERR] ")) << describe(r);
    EXPECT_TRUE(contains(r.err, path)) << "the message does not name the file: " << r.err;
    EXPECT_TRUE(contains(r.err, GetParam().key)) << "the message does not name the key: " << r.err;
    EXPECT_FALSE(contains(r.out, "ran"));
  }
}

INSTANTIATE_TEST_SUITE_P(
    Cases, NativeCliBadConfig,
    ::testing::Values(
        BadConfig{"WrongType", R"({"defaults": {"timeoutMs": "soon"}})", "defaults.timeoutMs"},
        BadConfig{"UnknownKey", R"({"bogus": 1})", "bogus"},
        BadConfig{"UnknownNestedKey", R"({"defaults": {"timeout": 5}})", "defaults.timeout"},
        BadConfig{"BadEnum", R"({"defaults": {"network": "all"}})", "defaults.network"},
        BadConfig{"BadSize", R"({"defaults": {"memoryLimit": "lots"}})", "defaults.memoryLimit"},
        // A lookahead is JavaScript but not RE2, which the network filter matches with.
        BadConfig{"HostPatternRe2CannotCompile", R"J({"network": {"blacklist": ["^(?!ok)"]}})J",
                  R"J("network.blacklist" pattern "^(?!ok)")J"},
        BadConfig{"NotJson", R"({"defaults": )", "Invalid JSON"}),
    [](const auto& info) { return info.param.name; });

}  // namespace
}  // namespace isol8::test
