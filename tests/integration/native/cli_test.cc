// The isol8 CLI end to end: where code comes from (files by extension, -e, stdin, --cmd), the
// working directory, --stdin, --out, --json, help/version, `config`, and its error messages.

#include <regex>

#include "support/backend_params.h"

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

// Runs: on every backend.
template <class Base>
class ScriptWriting : public Base {
 protected:
  std::string write_script(const std::string& name, const std::string& content) const {
    const std::string path = this->cli().dir().file(name);
    EXPECT_TRUE(spit(path, content)) << path;
    return path;
  }
};
class Cli : public ScriptWriting<BackendTest> {};

// ---- code from files, detected by extension

struct FileCase {
  const char* name;
  const char* file;
  const char* content;
  const char* expected_stdout;
  const char* expected_runtime;
};

// Test names in ctest show the case name instead of the struct's bytes.
void PrintTo(const FileCase& c, std::ostream* os) { *os << c.name; }

class CliFiles : public ScriptWriting<BackendCaseTest<FileCase>> {};

TEST_P(CliFiles, RuntimeFollowsTheExtension) {
  const FileCase& c = this->param();
  const std::string path = write_script(c.file, c.content);
  const CliRun r = cli().run({"run", "--json", path});
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  const json j = json::parse(r.out, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << r.out;
  EXPECT_EQ(j["stdout"], c.expected_stdout) << j.dump();
  EXPECT_EQ(j["runtime"], c.expected_runtime);
}

const char* case_name(const FileCase& c) { return c.name; }

ISOL8_BACKEND_CASES(
    Extensions, CliFiles,
    ::testing::Values(
        FileCase{"Py", "script.py", "import sys\nprint('py', sys.argv[0].endswith('.py'))\n",
                 "py True", "python"},
        FileCase{"Js", "script.js", "console.log('js', typeof require)\n", "js function", "node"},
        FileCase{"Mjs", "script.mjs",
                 "import os from 'node:os';\nconsole.log('mjs', os.platform())\n", "mjs linux",
                 "node"},
        FileCase{"Cjs", "script.cjs",
                 "const os = require('os');\nconsole.log('cjs', os.platform())\n", "cjs linux",
                 "node"},
        FileCase{"Sh", "script.sh", "echo \"sh $(basename \"$0\")\"\n", "sh main.sh", "bash"}),
    case_name);

TEST_P(Cli, RelativeFilePathFromTheCwd) {
  write_script("rel.py", "print('relative ok')\n");
  const CliRun r = cli().run({"run", "rel.py"});
  EXPECT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_EQ(r.out, "relative ok\n");
}

TEST_P(Cli, RuntimeFlagOverridesTheExtension) {
  const std::string path = write_script("code.txt", "echo from-txt-as-bash\n");
  const CliRun r = cli().run({"run", "-r", "bash", path});
  EXPECT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_EQ(r.out, "from-txt-as-bash\n");
}

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

// ---- other code sources

TEST_P(Cli, CodeFromStdin) {
  const CliRun r = cli().run({"run"}, "import sys\nprint('from stdin', 6 * 7)\n");
  EXPECT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_EQ(r.out, "from stdin 42\n");
}

TEST_P(Cli, CodeFromStdinWithRuntime) {
  const CliRun r = cli().run({"run", "-r", "node"}, "console.log('node via stdin')\n");
  EXPECT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_EQ(r.out, "node via stdin\n");
}

TEST_P(Cli, StdinDataReachesTheProgram) {
  const CliRun r = cli().run(
      {"run", "--stdin", "hello sandbox", "-e", "import sys; print(sys.stdin.read().upper())"});
  EXPECT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_EQ(r.out, "HELLO SANDBOX\n");
}

TEST_P(Cli, WithoutStdinDataTheProgramSeesEof) {
  const CliRun r = cli().run({"run", "-e", "import sys; print(repr(sys.stdin.read()))"});
  EXPECT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_EQ(r.out, "''\n");
}

TEST_P(Cli, Cmd) {
  const CliRun r = cli().run({"run", "--cmd", "echo hi | tr a-z A-Z; echo \"$0\""});
  EXPECT_EQ(r.exit_code, 0) << describe(r);
  // Docker finds the interpreter on the image's PATH (images keep it in different places), so
  // its argv[0] is the bare name.
  EXPECT_EQ(r.out, is_docker() ? "HI\nbash\n" : "HI\n/bin/bash\n");
}

TEST_P(Cli, CmdRunsUnderBashWhateverTheRuntime) {
  const CliRun r =
      cli().run({"run", "-r", "python", "--json", "--cmd", "echo $BASH_VERSION | cut -c1"});
  EXPECT_EQ(r.exit_code, 0) << describe(r);
  const json j = json::parse(r.out, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << r.out;
  EXPECT_EQ(j["stdout"], "5");
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

// ---- working directory

TEST_P(Cli, WorkdirIsCreatedInsideSandbox) {
  const CliRun r = cli().run({"run", "--workdir", "sub", "--cmd", "pwd; touch here && ls"});
  EXPECT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_EQ(r.out, "/sandbox/sub\nhere\n");
}

TEST_P(Cli, NestedAbsoluteWorkdir) {
  const CliRun r =
      cli().run({"run", "--workdir", "/sandbox/a/b/../c", "-e", "import os; print(os.getcwd())"});
  EXPECT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_EQ(r.out, "/sandbox/a/c\n");
}

TEST_P(Cli, WorkdirOutsideSandboxIsRejected) {
  for (const char* dir : {"/etc", "../etc", "/sandbox/../etc", "/", "/sandboxx"}) {
    const CliRun r = cli().run({"run", "--workdir", dir, "--cmd", "pwd"});
    EXPECT_EQ(r.exit_code, 1) << dir << " " << describe(r);
    EXPECT_EQ(without_warnings(r.err), "[ERR] Working directory must be inside /sandbox\n") << dir;
    EXPECT_TRUE(r.out.empty()) << dir;
  }
}

// ---- output destinations

TEST_P(Cli, OutWritesStdoutToAFile) {
  for (bool no_stream : {false, true}) {
    const std::string path = cli().dir().file(no_stream ? "out-buffered.txt" : "out-stream.txt");
    std::vector<std::string> a = {"run", "--out", path, "-e",
                                  "import sys; print('to-file'); print('err', file=sys.stderr)"};
    if (no_stream) a.push_back("--no-stream");
    const CliRun r = cli().run(a);
    EXPECT_EQ(r.exit_code, 0) << describe(r);
    EXPECT_EQ(r.out, "to-file\n") << "no_stream=" << no_stream;
    EXPECT_EQ(slurp(path), "to-file") << "no_stream=" << no_stream;
  }
}

TEST_P(Cli, OutIntoAMissingDirectoryIsAnError) {
  const std::string path = cli().dir().file("no/such/dir/out.txt");
  const CliRun r = cli().run({"run", "--out", path, "-e", "print('x')"});
  EXPECT_EQ(r.exit_code, 1) << describe(r);
  EXPECT_TRUE(contains(r.err, "[ERR] ")) << describe(r);
}

TEST_P(Cli, JsonOutputFields) {
  const CliRun r =
      cli().run({"run", "--json", "-e",
                 "import sys; print('hi'); print('oops', file=sys.stderr); sys.exit(3)"});
  EXPECT_EQ(r.exit_code, 3) << describe(r);
  EXPECT_TRUE(without_warnings(r.err).empty()) << describe(r);
  ASSERT_TRUE(r.out.ends_with("}\n")) << r.out;
  EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 1) << "one JSON object on one line";
  const json j = json::parse(r.out, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << r.out;
  EXPECT_EQ(j["stdout"], "hi");
  EXPECT_EQ(j["stderr"], "oops");
  EXPECT_EQ(j["exitCode"], 3);
  EXPECT_EQ(j["truncated"], false);
  EXPECT_EQ(j["runtime"], "python");
  EXPECT_EQ(j["status"], "error");
  ASSERT_TRUE(j["durationMs"].is_number_integer()) << j;
  EXPECT_GE(j["durationMs"].get<int64_t>(), 0);
  EXPECT_TRUE(std::regex_match(
      j["executionId"].get<std::string>(),
      std::regex("[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")))
      << j["executionId"];
  EXPECT_TRUE(std::regex_match(j["timestamp"].get<std::string>(),
                               std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)")))
      << j["timestamp"];
  EXPECT_FALSE(j.contains("signal"));
}

TEST_P(Cli, JsonExecutionIdsDiffer) {
  const CliRun a = cli().run({"run", "--json", "-e", "pass"});
  const CliRun b = cli().run({"run", "--json", "-e", "pass"});
  const json ja = json::parse(a.out, nullptr, false);
  const json jb = json::parse(b.out, nullptr, false);
  ASSERT_FALSE(ja.is_discarded() || jb.is_discarded()) << a.out << b.out;
  EXPECT_NE(ja["executionId"], jb["executionId"]);
}

TEST_P(Cli, NoStreamPrintsOutputAfterTheRun) {
  const CliRun r = cli().run(
      {"run", "--no-stream", "-e", "import sys; print('a'); print('b', file=sys.stderr)"});
  EXPECT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_EQ(r.out, "a\n");
  EXPECT_EQ(without_warnings(r.err), "b\n");
}

ISOL8_BACKEND_SUITE(Cli);

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
  const CliRun r = cli().run({"run", "--persistent", "-e", "print(1)"});
  EXPECT_EQ(r.exit_code, 1) << describe(r);
  EXPECT_TRUE(contains(r.err, "--persistent is not supported yet")) << describe(r);
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
