// The isol8 CLI end to end, on every backend: where code comes from (files by extension, -e,
// stdin, --cmd), the working directory, --stdin, --out and --json.

#include <regex>

#include "support/test_support.h"

namespace isol8::test {
namespace {

using nlohmann::json;

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
class Cli : public ScriptWriting<CliBackendTest> {};

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

class CliFiles : public ScriptWriting<CliBackendCaseTest<FileCase>> {};

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

ISOL8_CLI_CASES(
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

ISOL8_CLI_SUITE(Cli);

}  // namespace
}  // namespace isol8::test
