#include "core/run_preparation.h"
#include "core/package_install.h"
#include "support/fake_backend.h"

#include <algorithm>
#include <cstdlib>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace isol8 {
namespace {

using namespace std::string_literals;
using Argv = std::vector<std::string>;

using test::FakeBackend;

// Sets an environment variable for one test, restoring it afterwards.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    ::setenv(name, value, 1);
  }
  ~ScopedEnv() {
    if (old_) {
      ::setenv(name_, old_->c_str(), 1);
    } else {
      ::unsetenv(name_);
    }
  }

 private:
  const char* name_;
  std::optional<std::string> old_;
};

// What a Debian host with every runtime installed looks like (bun and deno from their installers).
const std::set<std::string> kHostExecutables = {
    "/usr/bin/python3", "/usr/bin/node", "/usr/local/bin/bun", "/usr/local/bin/deno",
    "/bin/bash",        "/usr/bin/bash", "/usr/bin/npm",
};

const char* const kDenoFlags[] = {"run", "--allow-read=/sandbox,/tmp",
                                  "--allow-write=/sandbox,/tmp", "--allow-env", "--allow-net"};

ExecutionRequest code_request(std::string runtime, std::string code) {
  ExecutionRequest r;
  r.runtime = std::move(runtime);
  r.code = std::move(code);
  return r;
}

ExecutionRequest cmd_request(std::string cmd, std::string runtime = "") {
  ExecutionRequest r;
  r.runtime = std::move(runtime);
  r.cmd = std::move(cmd);
  return r;
}

class RunPreparationTest : public ::testing::Test {
 protected:
  Result<PreparedRun> prepare(const ExecutionRequest& request) {
    return prepare_run(request, options_, backend_);
  }
  // Prepares a request that must succeed.
  PreparedRun ok(const ExecutionRequest& request) {
    auto r = prepare(request);
    EXPECT_TRUE(r) << r.error().message;
    return r ? std::move(r).value() : PreparedRun{};
  }
  std::string error(const ExecutionRequest& request) {
    auto r = prepare(request);
    EXPECT_FALSE(r) << "expected an error, got argv[0] " << r->spec.argv.front();
    return r ? std::string() : r.error().message;
  }

  Options options_;
  FakeBackend backend_{kHostExecutables};
};

size_t count_prefix(const std::vector<std::string>& env, const std::string& prefix) {
  return static_cast<size_t>(std::count_if(
      env.begin(), env.end(), [&](const std::string& e) { return e.starts_with(prefix); }));
}

bool contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

// ---------------------------------------------------------------------------------------------
// code / cmd

TEST_F(RunPreparationTest, CodeAndCmdAreMutuallyExclusive) {
  ExecutionRequest r = code_request("python", "print(1)");
  r.cmd = "ls";
  EXPECT_EQ(error(r),
            "ExecutionRequest.code, ExecutionRequest.codeUrl, and ExecutionRequest.cmd are "
            "mutually exclusive — provide exactly one.");
}

TEST_F(RunPreparationTest, NeitherCodeNorCmdIsAnError) {
  ExecutionRequest r;
  r.runtime = "python";
  EXPECT_EQ(error(r), "ExecutionRequest must include exactly one of: code, codeUrl, or cmd.");
}

TEST_F(RunPreparationTest, EmptyCodeCountsAsMissing) {
  EXPECT_EQ(error(code_request("python", "")),
            "ExecutionRequest must include exactly one of: code, codeUrl, or cmd.");
}

TEST_F(RunPreparationTest, WhitespaceOnlyCodeCountsAsMissing) {
  EXPECT_EQ(error(code_request("python", " \n\t\r ")),
            "ExecutionRequest must include exactly one of: code, codeUrl, or cmd.");
}

TEST_F(RunPreparationTest, WhitespaceOnlyCodeAndCmdCountAsMissing) {
  ExecutionRequest r = code_request("python", "   ");
  r.cmd = "\t\n";
  EXPECT_EQ(error(r), "ExecutionRequest must include exactly one of: code, codeUrl, or cmd.");
}

TEST_F(RunPreparationTest, BlankCodeNextToACmdIsIgnored) {
  ExecutionRequest r = cmd_request("ls -la");
  r.code = "  ";
  EXPECT_EQ(ok(r).spec.argv, (Argv{"/bin/bash", "-c", "ls -la"}));
}

// ---------------------------------------------------------------------------------------------
// Runtimes and argv

TEST_F(RunPreparationTest, PythonInlineInHostMode) {
  PreparedRun run = ok(code_request("python", "print('hi')"));
  EXPECT_EQ(run.spec.argv, (Argv{"/usr/bin/python3", "-c", "print('hi')"}));
  EXPECT_FALSE(run.spec.code_file.has_value());
  ASSERT_NE(run.runtime, nullptr);
  EXPECT_EQ(run.runtime->name, "python");
  EXPECT_EQ(run.spec.root_dir, "");
}

TEST_F(RunPreparationTest, HostModeAsksTheBackendAboutTheHostRoot) {
  ok(code_request("python", "1"));
  ASSERT_FALSE(backend_.queried_roots().empty());
  for (const auto& root : backend_.queried_roots()) EXPECT_EQ(root, "");
}

TEST_F(RunPreparationTest, HostModePrefersTheHostInterpreterPath) {
  FakeBackend backend({"/usr/local/bin/python3", "/usr/bin/python3"});
  auto r = prepare_run(code_request("python", "1"), options_, backend);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->spec.argv.front(), "/usr/bin/python3");
}

TEST_F(RunPreparationTest, HostModeFallsBackToTheSearchDirectories) {
  FakeBackend backend({"/usr/local/bin/python3"});
  auto r = prepare_run(code_request("python", "1"), options_, backend);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->spec.argv, (Argv{"/usr/local/bin/python3", "-c", "1"}));
}

TEST_F(RunPreparationTest, RootfsModeSearchesUsrLocalBinFirstInsideTheRoot) {
  options_.native.root_dir = "/srv/isol8/python";
  FakeBackend backend({"/usr/local/bin/python3", "/usr/bin/python3"});
  auto r = prepare_run(code_request("python", "1"), options_, backend);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->spec.argv.front(), "/usr/local/bin/python3");
  EXPECT_EQ(r->spec.root_dir, "/srv/isol8/python");
  ASSERT_FALSE(backend.queried_roots().empty());
  for (const auto& root : backend.queried_roots()) EXPECT_EQ(root, "/srv/isol8/python");
}

TEST_F(RunPreparationTest, RootfsModeFindsBinBash) {
  options_.native.root_dir = "/srv/isol8/bash";
  FakeBackend backend({"/bin/bash"});
  auto r = prepare_run(cmd_request("true"), options_, backend);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->spec.argv, (Argv{"/bin/bash", "-c", "true"}));
}

TEST_F(RunPreparationTest, NodeInline) {
  EXPECT_EQ(ok(code_request("node", "console.log(1)")).spec.argv,
            (Argv{"/usr/bin/node", "-e", "console.log(1)"}));
}

TEST_F(RunPreparationTest, CodeWithAFileExtensionGoesToAFile) {
  ExecutionRequest r = code_request("node", "module.exports = 1; console.log(require)");
  r.file_extension = ".cjs";
  PreparedRun run = ok(r);
  EXPECT_EQ(run.spec.argv, (Argv{"/usr/bin/node", "/sandbox/main.cjs"}));
  ASSERT_TRUE(run.spec.code_file.has_value());
  EXPECT_EQ(run.spec.code_file->path, "/sandbox/main.cjs");
  EXPECT_EQ(run.spec.code_file->content, *r.code);
}

TEST_F(RunPreparationTest, PythonFileUsesItsExtension) {
  ExecutionRequest r = code_request("python", "print(2)");
  r.file_extension = ".py";
  PreparedRun run = ok(r);
  EXPECT_EQ(run.spec.argv, (Argv{"/usr/bin/python3", "/sandbox/main.py"}));
  ASSERT_TRUE(run.spec.code_file.has_value());
  EXPECT_EQ(run.spec.code_file->content, "print(2)");
}

TEST_F(RunPreparationTest, CodeAtTheInlineLimitStaysInline) {
  const std::string code(kMaxInlineCode, '#');
  PreparedRun run = ok(code_request("python", code));
  EXPECT_EQ(run.spec.argv, (Argv{"/usr/bin/python3", "-c", code}));
  EXPECT_FALSE(run.spec.code_file.has_value());
}

TEST_F(RunPreparationTest, CodeOverTheInlineLimitGoesToADefaultExtensionFile) {
  const std::string code(kMaxInlineCode + 1, '#');
  PreparedRun run = ok(code_request("python", code));
  EXPECT_EQ(run.spec.argv, (Argv{"/usr/bin/python3", "/sandbox/main.py"}));
  ASSERT_TRUE(run.spec.code_file.has_value());
  EXPECT_EQ(run.spec.code_file->path, "/sandbox/main.py");
  EXPECT_EQ(run.spec.code_file->content, code);
}

TEST_F(RunPreparationTest, CodeWithANulByteGoesToAFile) {
  const std::string code = "print('a')\n#\0tail"s;
  PreparedRun run = ok(code_request("python", code));
  EXPECT_EQ(run.spec.argv, (Argv{"/usr/bin/python3", "/sandbox/main.py"}));
  ASSERT_TRUE(run.spec.code_file.has_value());
  EXPECT_EQ(run.spec.code_file->content, code);
  for (const auto& a : run.spec.argv) EXPECT_EQ(a.find('\0'), std::string::npos);
}

TEST_F(RunPreparationTest, DenoAlwaysRunsAFileWithItsPermissionFlags) {
  PreparedRun run = ok(code_request("deno", "console.log(1)"));
  Argv want = {"/usr/local/bin/deno"};
  want.insert(want.end(), std::begin(kDenoFlags), std::end(kDenoFlags));
  want.push_back("/sandbox/main.mts");
  EXPECT_EQ(run.spec.argv, want);
  ASSERT_TRUE(run.spec.code_file.has_value());
  EXPECT_EQ(run.spec.code_file->path, "/sandbox/main.mts");
  EXPECT_EQ(run.spec.code_file->content, "console.log(1)");
}

TEST_F(RunPreparationTest, DenoHonoursTheFileExtension) {
  ExecutionRequest r = code_request("deno", "console.log(1)");
  r.file_extension = ".ts";
  PreparedRun run = ok(r);
  EXPECT_EQ(run.spec.argv.back(), "/sandbox/main.ts");
  EXPECT_EQ(run.spec.argv.size(), 7u);
}

TEST_F(RunPreparationTest, BunInlineAndFile) {
  EXPECT_EQ(ok(code_request("bun", "console.log(1)")).spec.argv,
            (Argv{"/usr/local/bin/bun", "-e", "console.log(1)"}));
  ExecutionRequest r = code_request("bun", "console.log(1)");
  r.file_extension = ".ts";
  EXPECT_EQ(ok(r).spec.argv, (Argv{"/usr/local/bin/bun", "run", "/sandbox/main.ts"}));
}

TEST_F(RunPreparationTest, BashInline) {
  EXPECT_EQ(ok(code_request("bash", "echo $((1+2))")).spec.argv,
            (Argv{"/bin/bash", "-c", "echo $((1+2))"}));
}

TEST_F(RunPreparationTest, CmdRunsUnderBashWhateverTheRuntime) {
  PreparedRun run = ok(cmd_request("echo hi | wc -c", "python"));
  EXPECT_EQ(run.spec.argv, (Argv{"/bin/bash", "-c", "echo hi | wc -c"}));
  EXPECT_FALSE(run.spec.code_file.has_value());
}

TEST_F(RunPreparationTest, CmdWithoutARuntimeIsBash) {
  PreparedRun run = ok(cmd_request("true"));
  ASSERT_NE(run.runtime, nullptr);
  EXPECT_EQ(run.runtime->name, "bash");
}

TEST_F(RunPreparationTest, CodeWithoutARuntimeIsPython) {
  PreparedRun run = ok(code_request("", "print(1)"));
  ASSERT_NE(run.runtime, nullptr);
  EXPECT_EQ(run.runtime->name, "python");
  EXPECT_EQ(run.spec.argv.front(), "/usr/bin/python3");
}

TEST_F(RunPreparationTest, CmdNeedsBashEvenWhenTheRuntimeIsInstalled) {
  FakeBackend backend({"/usr/bin/python3"});
  auto r = prepare_run(cmd_request("ls", "python"), options_, backend);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("\"bash\""), std::string::npos) << r.error().message;
}

TEST_F(RunPreparationTest, MissingInterpreterNamesRuntimeAndInterpreter) {
  FakeBackend backend({"/bin/bash"});
  auto r = prepare_run(code_request("python", "print(1)"), options_, backend);
  ASSERT_FALSE(r);
  const std::string& msg = r.error().message;
  EXPECT_NE(msg.find("Runtime \"python\""), std::string::npos) << msg;
  EXPECT_NE(msg.find("\"python3\""), std::string::npos) << msg;
}

TEST_F(RunPreparationTest, MissingInterpreterInARootfsNamesTheRoot) {
  options_.native.root_dir = "/srv/isol8/empty";
  FakeBackend backend(std::set<std::string>{});  // no executables at all
  auto r = prepare_run(code_request("node", "1"), options_, backend);
  ASSERT_FALSE(r);
  const std::string& msg = r.error().message;
  EXPECT_NE(msg.find("Runtime \"node\""), std::string::npos) << msg;
  EXPECT_NE(msg.find("/srv/isol8/empty"), std::string::npos) << msg;
}

TEST_F(RunPreparationTest, UnknownRuntime) {
  EXPECT_EQ(error(code_request("ruby", "puts 1")),
            "Unknown runtime: \"ruby\". Available: python, node, bun, deno, bash");
}

TEST_F(RunPreparationTest, FileExtensionWithASlashIsRejected) {
  ExecutionRequest r = code_request("python", "print(1)");
  r.file_extension = "/../../etc/x";
  EXPECT_FALSE(prepare(r));
}

TEST_F(RunPreparationTest, CmdWithANulByteIsRejected) {
  EXPECT_FALSE(prepare(cmd_request("echo a\0b"s)));
}

// ---------------------------------------------------------------------------------------------
// Working directory

struct WorkdirCase {
  std::string input;
  std::string expected;
};

class ResolveWorkdirAccepted : public ::testing::TestWithParam<WorkdirCase> {};

TEST_P(ResolveWorkdirAccepted, Normalises) {
  auto r = resolve_workdir(GetParam().input);
  ASSERT_TRUE(r) << GetParam().input << ": " << r.error().message;
  EXPECT_EQ(*r, GetParam().expected);
}

INSTANTIATE_TEST_SUITE_P(
    Inputs, ResolveWorkdirAccepted,
    ::testing::Values(WorkdirCase{"sub", "/sandbox/sub"}, WorkdirCase{"a/b", "/sandbox/a/b"},
                      WorkdirCase{"/sandbox/a/../b", "/sandbox/b"},
                      WorkdirCase{"/sandbox", "/sandbox"}, WorkdirCase{"/sandbox/", "/sandbox"},
                      WorkdirCase{"./a//b/.", "/sandbox/a/b"}, WorkdirCase{"", "/sandbox"},
                      WorkdirCase{".", "/sandbox"}, WorkdirCase{"a/..", "/sandbox"},
                      WorkdirCase{"/sandbox/x/y/../../z", "/sandbox/z"},
                      WorkdirCase{"//sandbox///deep", "/sandbox/deep"}));

class ResolveWorkdirRejected : public ::testing::TestWithParam<std::string> {};

TEST_P(ResolveWorkdirRejected, SaysItMustBeInsideSandbox) {
  auto r = resolve_workdir(GetParam());
  ASSERT_FALSE(r) << GetParam() << " resolved to " << *r;
  EXPECT_EQ(r.error().message, "Working directory must be inside /sandbox");
}

INSTANTIATE_TEST_SUITE_P(Inputs, ResolveWorkdirRejected,
                         ::testing::Values("/etc", "../x", "/sandboxy", "/sandbox/../etc", "/",
                                           "..", "a/../..", "/sandbox/../sandboxy", "/tmp",
                                           "/../sandbox/../root", "/sandbox/a\0b"s));

TEST_F(RunPreparationTest, WorkdirDefaultsToSandbox) {
  EXPECT_EQ(ok(code_request("python", "1")).spec.workdir, "/sandbox");
}

TEST_F(RunPreparationTest, WorkdirIsResolvedIntoTheSpec) {
  ExecutionRequest r = code_request("python", "1");
  r.workdir = "proj/../work";
  EXPECT_EQ(ok(r).spec.workdir, "/sandbox/work");
}

TEST_F(RunPreparationTest, WorkdirOutsideSandboxIsRejected) {
  ExecutionRequest r = code_request("python", "1");
  r.workdir = "/etc";
  EXPECT_EQ(error(r), "Working directory must be inside /sandbox");
}

// ---------------------------------------------------------------------------------------------
// Environment

TEST_F(RunPreparationTest, EnvironmentHasPathAndHome) {
  const auto env = ok(code_request("python", "1")).spec.env;
  EXPECT_EQ(count_prefix(env, "PATH="), 1u);
  auto path = std::find_if(env.begin(), env.end(),
                           [](const std::string& e) { return e.starts_with("PATH="); });
  ASSERT_NE(path, env.end());
  EXPECT_NE(path->find("/usr/bin"), std::string::npos) << *path;
  EXPECT_NE(path->find("/bin"), std::string::npos) << *path;
  EXPECT_TRUE(contains(env, "HOME=/sandbox"));
  EXPECT_TRUE(contains(env, "PYTHONUNBUFFERED=1"));
}

TEST_F(RunPreparationTest, EnvironmentEntriesAreKeyEqualsValue) {
  for (const auto& e : ok(code_request("python", "1")).spec.env) {
    EXPECT_NE(e.find('='), std::string::npos) << e;
    EXPECT_NE(e.front(), '=') << e;
  }
}

TEST_F(RunPreparationTest, SecretsAreInTheEnvironmentAndMasked) {
  options_.secrets = {{"API_KEY", "s3cr3t-value"}, {"TOKEN", "tok"}};
  PreparedRun run = ok(code_request("python", "1"));
  EXPECT_TRUE(contains(run.spec.env, "API_KEY=s3cr3t-value"));
  EXPECT_TRUE(contains(run.spec.env, "TOKEN=tok"));
  EXPECT_TRUE(contains(run.secret_values, "s3cr3t-value"));
  EXPECT_TRUE(contains(run.secret_values, "tok"));
}

TEST_F(RunPreparationTest, EmptySecretValueIsNotMasked) {
  options_.secrets = {{"EMPTY", ""}};
  PreparedRun run = ok(code_request("python", "1"));
  EXPECT_TRUE(contains(run.spec.env, "EMPTY="));
  EXPECT_TRUE(run.secret_values.empty());
}

TEST_F(RunPreparationTest, RequestEnvIsAdded) {
  ExecutionRequest r = code_request("python", "1");
  r.env = {{"FOO", "bar"}, {"EMPTY", ""}, {"WITH_EQ", "a=b"}};
  const auto env = ok(r).spec.env;
  EXPECT_TRUE(contains(env, "FOO=bar"));
  EXPECT_TRUE(contains(env, "EMPTY="));
  EXPECT_TRUE(contains(env, "WITH_EQ=a=b"));
}

TEST_F(RunPreparationTest, RequestEnvOverridesASecretOfTheSameName) {
  options_.secrets = {{"API_KEY", "s3cr3t-value"}};
  ExecutionRequest r = code_request("python", "1");
  r.env = {{"API_KEY", "override"}};
  PreparedRun run = ok(r);
  EXPECT_EQ(count_prefix(run.spec.env, "API_KEY="), 1u);
  EXPECT_TRUE(contains(run.spec.env, "API_KEY=override"));
  // The secret is still masked in the output.
  EXPECT_TRUE(contains(run.secret_values, "s3cr3t-value"));
}

TEST_F(RunPreparationTest, RequestEnvOverridesABaseVariable) {
  ExecutionRequest r = code_request("python", "1");
  r.env = {{"LANG", "de_DE.UTF-8"}};
  const auto env = ok(r).spec.env;
  EXPECT_EQ(count_prefix(env, "LANG="), 1u);
  EXPECT_TRUE(contains(env, "LANG=de_DE.UTF-8"));
}

TEST_F(RunPreparationTest, SimilarNamesDoNotReplaceEachOther) {
  ExecutionRequest r = code_request("python", "1");
  r.env = {{"PATHX", "1"}, {"HOM", "2"}};
  const auto env = ok(r).spec.env;
  EXPECT_EQ(count_prefix(env, "PATH="), 1u);
  EXPECT_TRUE(contains(env, "HOME=/sandbox"));
  EXPECT_TRUE(contains(env, "PATHX=1"));
  EXPECT_TRUE(contains(env, "HOM=2"));
}

TEST_F(RunPreparationTest, EnvKeyWithEqualsIsRejected) {
  ExecutionRequest r = code_request("python", "1");
  r.env = {{"A=B", "x"}};
  const std::string msg = error(r);
  EXPECT_NE(msg.find("A=B"), std::string::npos) << msg;
}

TEST_F(RunPreparationTest, EmptyEnvKeyIsRejected) {
  ExecutionRequest r = code_request("python", "1");
  r.env = {{"", "x"}};
  EXPECT_FALSE(prepare(r));
}

TEST_F(RunPreparationTest, EnvValueWithANulByteIsRejected) {
  ExecutionRequest r = code_request("python", "1");
  r.env = {{"A", "x\0y"s}};
  EXPECT_FALSE(prepare(r));
}

TEST_F(RunPreparationTest, SecretNameWithEqualsIsRejected) {
  options_.secrets = {{"K=V", "x"}};
  const std::string msg = error(code_request("python", "1"));
  EXPECT_NE(msg.find("K=V"), std::string::npos) << msg;
}

// ---------------------------------------------------------------------------------------------
// Options

TEST_F(RunPreparationTest, FilteredNetworkPassesItsFilterAndLogFlag) {
  options_.network = NetworkMode::kFiltered;
  options_.network_filter.whitelist = {"^pypi\\.org$"};
  options_.network_filter.blacklist = {"evil"};
  options_.log_network = true;
  const auto spec = ok(code_request("python", "1")).spec;
  EXPECT_EQ(spec.network, NetworkMode::kFiltered);
  EXPECT_EQ(spec.network_filter.whitelist, std::vector<std::string>{"^pypi\\.org$"});
  EXPECT_EQ(spec.network_filter.blacklist, std::vector<std::string>{"evil"});
  EXPECT_TRUE(spec.log_network);
}

TEST_F(RunPreparationTest, NetworkModeIsPassedOn) {
  options_.network = NetworkMode::kHost;
  EXPECT_EQ(ok(code_request("python", "1")).spec.network, NetworkMode::kHost);
  options_.network = NetworkMode::kNone;
  EXPECT_EQ(ok(code_request("python", "1")).spec.network, NetworkMode::kNone);
}

TEST_F(RunPreparationTest, MemoryLimitBelowTheMinimumIsRejected) {
  options_.memory_limit_bytes = 1024;
  EXPECT_EQ(error(code_request("python", "1")),
            "memoryLimit must be at least 6m (the smallest limit Docker accepts): got \"1024\"");
}

TEST_F(RunPreparationTest, SandboxSizeOutOfRangeNamesTheSetting) {
  options_.sandbox_size_bytes = 2ull << 40;
  EXPECT_EQ(error(code_request("python", "1")),
            "sandboxSize must be from 1m to 1t: got \"2199023255552\"");
}

TEST_F(RunPreparationTest, TmpSizeOutOfRangeNamesTheSetting) {
  options_.tmp_size_bytes = 0;
  const std::string msg = error(code_request("python", "1"));
  EXPECT_NE(msg.find("tmpSize"), std::string::npos) << msg;
}

TEST_F(RunPreparationTest, TmpfsSizesArePassedOn) {
  options_.sandbox_size_bytes = 1ull << 30;
  options_.tmp_size_bytes = 64ull << 20;
  PreparedRun run = ok(code_request("python", "1"));
  EXPECT_EQ(run.spec.sandbox_size_bytes, 1ull << 30);
  EXPECT_EQ(run.spec.tmp_size_bytes, 64ull << 20);
}

TEST_F(RunPreparationTest, TimeoutComesFromOptionsUnlessTheRequestSetsOne) {
  options_.timeout_ms = 12345;
  EXPECT_EQ(ok(code_request("python", "1")).spec.timeout, std::chrono::milliseconds(12345));
  ExecutionRequest r = code_request("python", "1");
  r.timeout_ms = 1500;
  EXPECT_EQ(ok(r).spec.timeout, std::chrono::milliseconds(1500));
}

TEST_F(RunPreparationTest, NonPositiveTimeoutIsRejected) {
  ExecutionRequest r = code_request("python", "1");
  r.timeout_ms = 0;
  EXPECT_FALSE(prepare(r));
  r.timeout_ms = -5;
  EXPECT_FALSE(prepare(r));
}

// A time limit whose nanosecond count would overflow used to wrap into a 29 ms run.
TEST_F(RunPreparationTest, HugeTimeoutIsRejectedNotWrapped) {
  ExecutionRequest r = code_request("python", "1");
  r.timeout_ms = 9300000000000;
  EXPECT_EQ(error(r),
            "ExecutionRequest.timeoutMs must be a positive integer number of milliseconds, at "
            "most 86400000 (24 hours): got \"9300000000000\"");
  options_.timeout_ms = 86400001;
  EXPECT_NE(error(code_request("python", "1")).find("timeoutMs"), std::string::npos);
}

TEST_F(RunPreparationTest, LimitsAboveTheirRangeAreRejected) {
  options_.cpu_limit = 1e9;
  EXPECT_EQ(error(code_request("python", "1")),
            "cpuLimit must be a number of CPUs from 0.01 to 1024: got \"1000000000\"");
  options_ = Options{};
  options_.pids_limit = 5'000'000;
  EXPECT_NE(error(code_request("python", "1")).find("pidsLimit"), std::string::npos);
  options_ = Options{};
  options_.max_output_size = int64_t{2} << 30;
  EXPECT_NE(error(code_request("python", "1")).find("maxOutputSize"), std::string::npos);
  options_ = Options{};
  options_.memory_limit_bytes = 2ull << 40;
  EXPECT_NE(error(code_request("python", "1")).find("memoryLimit"), std::string::npos);
}

TEST_F(RunPreparationTest, NonPositiveLimitsAreRejected) {
  options_.cpu_limit = 0;
  EXPECT_FALSE(prepare(code_request("python", "1")));
  options_ = Options{};
  options_.pids_limit = 0;
  EXPECT_FALSE(prepare(code_request("python", "1")));
  options_ = Options{};
  options_.max_output_size = 0;
  EXPECT_FALSE(prepare(code_request("python", "1")));
}

TEST_F(RunPreparationTest, StdinIsPassedOn) {
  ExecutionRequest r = code_request("python", "import sys; print(sys.stdin.read())");
  r.stdin_data = "line1\nline2\0bin"s;
  EXPECT_EQ(ok(r).spec.stdin_data, "line1\nline2\0bin"s);
}

// ---------------------------------------------------------------------------------------------
// --install's network (upstream's CLI: without --net the run goes filtered, registry allowed)

TEST(InstallNetwork, PythonGoesFilteredWithPypiAllowed) {
  Options o;
  ExecutionRequest r = code_request("python", "import six");
  r.install_packages = {"six"};
  apply_install_network(o, r, /*network_explicit=*/false);
  EXPECT_EQ(o.network, NetworkMode::kFiltered);
  EXPECT_EQ(o.network_filter.whitelist, (Argv{"^pypi\\.org$", "^files\\.pythonhosted\\.org$"}));
  EXPECT_TRUE(o.network_filter.blacklist.empty());
}

TEST(InstallNetwork, NodeAndBunAllowTheNpmRegistry) {
  for (const char* runtime : {"node", "bun"}) {
    Options o;
    ExecutionRequest r = code_request(runtime, "1");
    r.install_packages = {"is-number"};
    apply_install_network(o, r, false);
    EXPECT_EQ(o.network, NetworkMode::kFiltered) << runtime;
    EXPECT_EQ(o.network_filter.whitelist, (Argv{"^registry\\.npmjs\\.org$"})) << runtime;
  }
}

TEST(InstallNetwork, DenoAllowsTheNpmRegistryJsrAndTheHostsOfItsUrls) {
  Options o;
  ExecutionRequest r = code_request("deno", "1");
  r.install_packages = {"npm:is-number", "https://deno.land/std/fmt/colors.ts"};
  apply_install_network(o, r, false);
  EXPECT_EQ(o.network, NetworkMode::kFiltered);
  EXPECT_EQ(o.network_filter.whitelist,
            (Argv{"^registry\\.npmjs\\.org$", "^jsr\\.io$", "^npm\\.jsr\\.io$", "^deno\\.land$"}));
}

TEST(InstallNetwork, AMirrorReplacesTheRegistryByItsHost) {
  ScopedEnv index("PIP_INDEX_URL", "http://pypi.corp.example:8080/simple/");
  ScopedEnv npm("npm_config_registry", "https://npm.corp.example/");
  Options o;
  ExecutionRequest r = code_request("python", "1");
  r.install_packages = {"six"};
  apply_install_network(o, r, false);
  EXPECT_EQ(o.network_filter.whitelist, (Argv{"^pypi\\.corp\\.example$"}));
  EXPECT_EQ(registry_host_patterns("node"), (Argv{"^npm\\.corp\\.example$"}));
}

TEST(InstallNetwork, IsolInstallHostsReplacesTheList) {
  ScopedEnv hosts("ISOL8_INSTALL_HOSTS", " ^a\\.example$ ,^b\\.example$");
  EXPECT_EQ(registry_host_patterns("python"), (Argv{"^a\\.example$", "^b\\.example$"}));
  EXPECT_EQ(registry_host_patterns("bash"), (Argv{"^a\\.example$", "^b\\.example$"}));
}

TEST(InstallNetwork, UrlHosts) {
  EXPECT_EQ(url_host("https://User@Pypi.Example.com:8443/simple"), "pypi.example.com");
  EXPECT_EQ(url_host("http://10.0.0.1/"), "10.0.0.1");
  EXPECT_EQ(url_host("no-scheme"), "");
  EXPECT_EQ(exact_host_pattern("a-b.example"), "^a-b\\.example$");
}

TEST(InstallNetwork, CmdDefaultsToBashAndItsDebianArchive) {
  Options o;
  ExecutionRequest r = cmd_request("jq --version");
  r.install_packages = {"jq"};
  apply_install_network(o, r, false);
  EXPECT_EQ(o.network, NetworkMode::kFiltered);
  EXPECT_EQ(o.network_filter.whitelist, (Argv{"^deb\\.debian\\.org$"}));
}

TEST(InstallNetwork, RegistriesAreAddedToTheConfiguredWhitelistOnce) {
  Options o;
  o.network_filter.whitelist = {"^api\\.example\\.com$", "^pypi\\.org$"};
  o.network_filter.blacklist = {"evil"};
  ExecutionRequest r = code_request("python", "1");
  r.install_packages = {"requests"};
  apply_install_network(o, r, false);
  EXPECT_EQ(o.network_filter.whitelist,
            (Argv{"^api\\.example\\.com$", "^pypi\\.org$", "^files\\.pythonhosted\\.org$"}));
  EXPECT_EQ(o.network_filter.blacklist, (Argv{"evil"}));
}

TEST(InstallNetwork, ExplicitNetworkWins) {
  for (const NetworkMode mode : {NetworkMode::kNone, NetworkMode::kHost}) {
    Options o;
    o.network = mode;
    ExecutionRequest r = code_request("python", "1");
    r.install_packages = {"six"};
    apply_install_network(o, r, /*network_explicit=*/true);
    EXPECT_EQ(o.network, mode);
    EXPECT_TRUE(o.network_filter.whitelist.empty());
  }
}

TEST(InstallNetwork, NoPackagesChangesNothing) {
  Options o;
  apply_install_network(o, code_request("python", "1"), false);
  EXPECT_EQ(o.network, NetworkMode::kNone);
  EXPECT_TRUE(o.network_filter.whitelist.empty());
}

TEST_F(RunPreparationTest, FilesGetTheirPermissionBitsWithoutSpecialBits) {
  ExecutionRequest r = code_request("python", "1");
  r.files = {{"/sandbox/run.sh", "#!/bin/sh\n"}, {"suid", "x"}, {"plain.txt", "p"}};
  r.file_modes = {{"/sandbox/run.sh", 0755}, {"suid", 07755}};
  const PreparedRun p = ok(r);
  std::map<std::string, uint32_t> modes;
  for (const CodeFile& f : p.spec.files) modes[f.path] = f.mode;
  EXPECT_EQ(modes,
            (std::map<std::string, uint32_t>{
                {"/sandbox/run.sh", 0755}, {"/sandbox/suid", 0755}, {"/sandbox/plain.txt", 0644}}));
}

TEST_F(RunPreparationTest, PackageInstallsNeedANetwork) {
  ExecutionRequest r = code_request("python", "import six");
  r.install_packages = {"six"};
  EXPECT_EQ(error(r), kInstallNeedsNetwork);
}

TEST_F(RunPreparationTest, PythonInstallIsOnePipCommandBeforeTheSetupScript) {
  options_.network = NetworkMode::kFiltered;
  ExecutionRequest r = code_request("python", "import six");
  r.install_packages = {"six", "requests[socks]>=2,<3"};
  r.setup_script = "echo hi";
  r.timeout_ms = 4000;
  const PreparedRun p = ok(r);
  ASSERT_EQ(p.spec.setup_commands.size(), 1u);
  const SetupCommand& c = p.spec.setup_commands[0];
  EXPECT_EQ(Argv(c.argv.begin(), c.argv.begin() + 4),
            (Argv{"/usr/bin/python3", "-m", "pip", "install"}));
  EXPECT_TRUE(contains(c.argv, "--user"));
  EXPECT_EQ(Argv(c.argv.end() - 3, c.argv.end()), (Argv{"--", "six", "requests[socks]>=2,<3"}));
  EXPECT_TRUE(contains(c.env, "PYTHONUSERBASE=/sandbox/.local"));
  EXPECT_EQ(c.timeout, std::chrono::milliseconds(4000));
  EXPECT_EQ(c.label, "Package install");
  EXPECT_EQ(p.spec.setup_script, "echo hi");
}

TEST_F(RunPreparationTest, EachRuntimeInstallsWithItsTool) {
  options_.network = NetworkMode::kHost;
  ExecutionRequest r = code_request("node", "1");
  r.install_packages = {"@scope/pkg@^1.2"};
  PreparedRun p = ok(r);
  ASSERT_EQ(p.spec.setup_commands.size(), 1u);
  EXPECT_EQ(p.spec.setup_commands[0].argv,
            (Argv{"/usr/bin/npm", "install", "--prefix", "/sandbox", "--no-audit", "--no-fund",
                  "--", "@scope/pkg@^1.2"}));
  r = code_request("bun", "1");
  r.install_packages = {"is-number"};
  p = ok(r);
  ASSERT_EQ(p.spec.setup_commands.size(), 1u);
  EXPECT_EQ(p.spec.setup_commands[0].argv,
            (Argv{"/usr/local/bin/bun", "install", "-g", "--", "is-number"}));
  EXPECT_TRUE(
      contains(p.spec.setup_commands[0].env, "BUN_INSTALL_GLOBAL_DIR=/sandbox/.bun-global"));
  r = code_request("deno", "1");
  r.install_packages = {"npm:is-number@7", "jsr:@std/fmt"};
  p = ok(r);
  ASSERT_EQ(p.spec.setup_commands.size(), 2u);
  EXPECT_EQ(p.spec.setup_commands[0].argv,
            (Argv{"/usr/local/bin/deno", "cache", "npm:is-number@7"}));
  EXPECT_EQ(p.spec.setup_commands[1].argv, (Argv{"/usr/local/bin/deno", "cache", "jsr:@std/fmt"}));
  EXPECT_TRUE(contains(p.spec.setup_commands[1].env, "DENO_DIR=/sandbox/.deno"));
}

// Bun finds what `bun install -g` put in its global directory through NODE_PATH only.
TEST_F(RunPreparationTest, BunCodeFindsItsGlobalPackages) {
  const PreparedRun p = ok(code_request("bun", "1"));
  EXPECT_TRUE(contains(p.spec.env,
                       "NODE_PATH=/usr/local/lib/node_modules:/sandbox/.npm-global/lib/"
                       "node_modules:/sandbox/node_modules:/sandbox/.bun-global/node_modules"));
  const PreparedRun node = ok(code_request("node", "1"));
  EXPECT_TRUE(contains(node.spec.env,
                       "NODE_PATH=/usr/local/lib/node_modules:/sandbox/.npm-global/lib/"
                       "node_modules:/sandbox/node_modules"));
}

// Deno reads only NPM_CONFIG_REGISTRY, and looks for cached npm packages under the registry it
// was given: a mirror named as npm_config_registry reaches deno's installs and its code under
// that name, once.
TEST_F(RunPreparationTest, DenoGetsTheNpmMirrorInInstallsAndCode) {
  options_.network = NetworkMode::kHost;
  ScopedEnv npm("npm_config_registry", "http://npm.corp.example/");
  ExecutionRequest r = code_request("deno", "1");
  r.install_packages = {"npm:is-number@7"};
  PreparedRun p = ok(r);
  ASSERT_EQ(p.spec.setup_commands.size(), 1u);
  const Argv& install_env = p.spec.setup_commands[0].env;
  EXPECT_EQ(std::count(install_env.begin(), install_env.end(),
                       "NPM_CONFIG_REGISTRY=http://npm.corp.example/"),
            1);
  EXPECT_TRUE(contains(p.spec.env, "NPM_CONFIG_REGISTRY=http://npm.corp.example/"));

  ScopedEnv upper("NPM_CONFIG_REGISTRY", "http://upper.corp.example/");
  p = ok(r);
  ASSERT_EQ(p.spec.setup_commands.size(), 1u);
  const Argv& env = p.spec.setup_commands[0].env;
  EXPECT_EQ(
      std::count_if(env.begin(), env.end(),
                    [](const std::string& e) { return e.starts_with("NPM_CONFIG_REGISTRY="); }),
      1);
  EXPECT_TRUE(contains(env, "NPM_CONFIG_REGISTRY=http://upper.corp.example/"));
  EXPECT_TRUE(contains(p.spec.env, "NPM_CONFIG_REGISTRY=http://upper.corp.example/"));

  // Other runtimes' code does not get it.
  EXPECT_FALSE(contains(ok(code_request("node", "1")).spec.env,
                        "NPM_CONFIG_REGISTRY=http://upper.corp.example/"));
}

TEST_F(RunPreparationTest, BadPackageNamesAreRefusedByName) {
  options_.network = NetworkMode::kHost;
  ExecutionRequest r = code_request("python", "1");
  r.install_packages = {"six", "x; rm -rf /"};
  EXPECT_EQ(error(r),
            "Invalid package name for python: \"x; rm -rf /\" (expected a pip requirement such "
            "as name, name[extra]==1.0 or name>=1,<2)");
}

TEST(PackageNames, EachRuntimeGrammar) {
  const std::map<std::string, std::pair<Argv, Argv>> cases = {
      {"python",
       {{"six", "Django==4.2", "requests[socks,security]>=2.0,<3", "zope.interface", "a_b-c.d",
         "numpy~=1.26", "pkg!=1.0", "x===1.0"},
        {"", "-r", "--index-url=http://evil", "six ", "a b", "$(id)", "`id`", "x;y", "x|y", "x&y",
         "../x", "x\n", "x\"", "x'", "six @ https://x/y.whl", "x; python_version<'3'", "x>", "[x]",
         "x[]"}}},
      {"node",
       {{"is-number", "is-number@7.0.0", "@types/node", "@scope/pkg@^1.2", "lodash@latest", "a@>=1",
         "a@1.x", "a@~1.2"},
        {"", "-g", "--registry=x", "Is-Number", "a b", "a@1 <2", "$(id)", "a;b", "git+ssh://x",
         "./local", "/abs", "@scope", "@/x", ".hidden", "_under", "a@", "a\nb"}}},
      {"deno",
       {{"npm:is-number", "npm:@scope/x@1", "jsr:@std/fmt", "jsr:@std/fmt@1.0.0/colors",
         "https://deno.land/std@0.200.0/fmt/colors.ts"},
        {"is-number", "npm:", "npm:$(id)", "http://deno.land/x.ts", "https://x/y?z=1",
         "https://x/a'b", "https://x/a;b", "jsr:std/fmt", "file:///etc/passwd", "--allow-all"}}},
      {"bash",
       {{"jq", "libssl3", "g++", "python3.11", "jq=1.6-2.1"},
        {"", "-y", "Jq", "j", "jq;id", "jq bash", "jq=", "../jq", "jq/bookworm"}}},
  };
  for (const auto& [runtime, sets] : cases) {
    for (const auto& good : sets.first) {
      EXPECT_TRUE(validate_packages(runtime, {good})) << runtime << " should accept " << good;
    }
    for (const auto& bad : sets.second) {
      auto r = validate_packages(runtime, {"ok-first", bad});
      if (runtime == "deno") r = validate_packages(runtime, {bad});
      EXPECT_FALSE(r) << runtime << " should refuse " << bad;
    }
  }
  EXPECT_TRUE(validate_packages("bun", {"@scope/pkg@1"}));
  EXPECT_FALSE(validate_packages("agent", {"x"}));
}

}  // namespace
}  // namespace isol8
