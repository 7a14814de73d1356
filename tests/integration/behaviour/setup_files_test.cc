// Setup scripts (--setup, ExecutionRequest::setup_script) and injected files (--files,
// ExecutionRequest::files): order, phases, failure messages, per-phase time limits, and the
// directory copy's rules (skipped directories, nested paths, symlinks that lead out).

#include <unistd.h>

#include <filesystem>

#include "support/test_support.h"

namespace isol8::test {
namespace {

class Setup : public BackendTest {};
// Its cases that only drive the CLI: also through a server (the remote kind).
class SetupCli : public CliBackendTest {};

TEST_P(SetupCli, SetupRunsBeforeTheCodeInTheSameSandbox) {
  const CliRun r = cli().run({"run", "--no-stream", "--setup", "echo prepared > /sandbox/state",
                              "--cmd", "cat /sandbox/state"});
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_EQ(r.out, "prepared\n");
}

TEST_P(SetupCli, RepeatedSetupValuesAndFilesAreJoinedInOrder) {
  TempDir dir;
  ASSERT_TRUE(spit(dir.file("setup.sh"), "echo from-file >> /sandbox/log\n"));
  const CliRun r = cli().run({"run", "--no-stream", "--setup", "echo first >> /sandbox/log",
                              "--setup", dir.file("setup.sh"), "--setup",
                              "echo last >> /sandbox/log", "--cmd", "cat /sandbox/log"});
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_EQ(r.out, "first\nfrom-file\nlast\n");
}

TEST_P(SetupCli, SetupOutputIsNotPartOfTheResult) {
  const CliRun r = cli().run(
      {"run", "--json", "--setup", "echo noise; echo noise2 >&2", "--cmd", "echo result"});
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["stdout"], "result");
  EXPECT_EQ(j["stderr"], "");
}

TEST_P(SetupCli, FailedSetupStopsTheRunWithItsExitCodeAndStderr) {
  for (const char* mode : std::initializer_list<const char*>{"--no-stream", "--json", nullptr}) {
    std::vector<std::string> args = {"run", "--setup",
                                     "echo broken dependency >&2; touch /sandbox/x; exit 3",
                                     "--cmd", "echo code-ran"};
    if (mode != nullptr) args.push_back(mode);
    const CliRun r = cli().run(args);
    EXPECT_EQ(r.exit_code, 1) << describe(r);
    EXPECT_TRUE(contains(r.err, "Setup script failed (exit code 3): broken dependency"))
        << describe(r);
    EXPECT_FALSE(contains(r.out, "code-ran")) << describe(r);
  }
}

TEST_P(SetupCli, SetupDoesNotReadTheCodesStdin) {
  const CliRun r =
      cli().run({"run", "--no-stream", "--stdin", "for-the-code", "--setup",
                 "cat > /sandbox/setup-saw", "--cmd", "echo \"[$(cat /sandbox/setup-saw)]\"; cat"});
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_EQ(r.out, "[]\nfor-the-code\n");
}

TEST_P(SetupCli, TheTimeLimitAppliesToEachPhase) {
  // Each phase takes 60% of the limit: together they exceed it, each alone does not.
  const CliRun ok = cli().run({"run", "--no-stream", "--timeout", "2000", "--setup", "sleep 1.2",
                               "--cmd", "sleep 1.2; echo done"});
  EXPECT_EQ(ok.exit_code, 0) << describe(ok);
  EXPECT_EQ(ok.out, "done\n");
  const CliRun slow =
      cli().run({"run", "--timeout", "500", "--setup", "sleep 30", "--cmd", "echo code-ran"});
  EXPECT_EQ(slow.exit_code, 1) << describe(slow);
  EXPECT_TRUE(contains(slow.err, "SETUP SCRIPT TIMED OUT")) << describe(slow);
  EXPECT_FALSE(contains(slow.out, "code-ran")) << describe(slow);
}

TEST_P(SetupCli, SecretsAreMaskedInSetupErrors) {
  const CliRun r = cli().run({"run", "--secret", "TOKEN=hunter2-secret", "--setup",
                              "echo \"bad $TOKEN\" >&2; exit 4", "--cmd", "true"});
  EXPECT_EQ(r.exit_code, 1) << describe(r);
  EXPECT_TRUE(contains(r.err, "Setup script failed (exit code 4): bad ***")) << describe(r);
  EXPECT_FALSE(contains(r.err, "hunter2")) << describe(r);
}

TEST_P(Setup, StreamEventsCarryTheSetupPhase) {
  ExecutionRequest req = bash_request("echo code-out");
  req.setup_script = "echo setup-out";
  std::vector<StreamEvent> events;
  auto engine = Engine::create(options());
  ASSERT_TRUE(engine) << engine.error().message;
  auto result = (*engine)->execute_stream(req, [&](const StreamEvent& e) { events.push_back(e); });
  ASSERT_TRUE(result) << result.error().message;
  // A stream may deliver one line in several chunks (docker's attach stream does): consecutive
  // events of one kind and phase are joined before comparing.
  std::vector<std::string> seen;
  std::vector<std::string> data;
  for (const auto& e : events) {
    std::string kind = std::string(to_string(e.type)) + ":" + e.phase;
    if (!seen.empty() && seen.back() == kind && e.type != StreamEvent::Type::kExit) {
      data.back() += e.data;
      continue;
    }
    seen.push_back(std::move(kind));
    data.push_back(e.data);
  }
  std::string order;
  for (const auto& kind : seen) order += kind + " ";
  ASSERT_EQ(seen.size(), 4u) << order;
  EXPECT_EQ(seen[0], "stdout:setup");
  EXPECT_EQ(data[0], "setup-out\n");
  EXPECT_EQ(seen[1], "exit:setup");
  EXPECT_EQ(data[1], "0");
  EXPECT_EQ(seen[2], "stdout:code");
  EXPECT_EQ(data[2], "code-out\n");
  EXPECT_EQ(seen[3], "exit:code");
}

ISOL8_BACKEND_SUITE(Setup);
ISOL8_CLI_SUITE(SetupCli);

class Files : public BackendTest {};
// Its cases that only drive the CLI: also through a server (the remote kind).
class FilesCli : public CliBackendTest {};

TEST_P(FilesCli, DirectoryIsCopiedWithNestedPathsAndSkippedDirectories) {
  TempDir dir;
  namespace fs = std::filesystem;
  fs::create_directories(dir.file("src/pkg/deep"));
  fs::create_directories(dir.file(".git"));
  fs::create_directories(dir.file("node_modules/x"));
  fs::create_directories(dir.file("sub/__pycache__"));
  ASSERT_TRUE(spit(dir.file("main.py"), "print('main')\n"));
  ASSERT_TRUE(spit(dir.file("src/pkg/deep/data.txt"), "deep data\n"));
  ASSERT_TRUE(spit(dir.file(".git/HEAD"), "ref\n"));
  ASSERT_TRUE(spit(dir.file("node_modules/x/index.js"), "x\n"));
  ASSERT_TRUE(spit(dir.file("sub/__pycache__/a.pyc"), "pyc\n"));
  const CliRun r = cli().run({"run", "--no-stream", "--files", dir.path(), "--cmd",
                              "cd /sandbox && find . -type f | sort && cat src/pkg/deep/data.txt"});
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_EQ(r.out, "./main.py\n./src/pkg/deep/data.txt\ndeep data\n");
}

TEST_P(FilesCli, SymlinksOutOfTheDirectoryAreNotFollowed) {
  TempDir dir, outside;
  ASSERT_TRUE(spit(outside.file("host-secret"), "HOST SECRET\n"));
  ASSERT_TRUE(spit(dir.file("inside.txt"), "inside\n"));
  ASSERT_EQ(::symlink(outside.file("host-secret").c_str(), dir.file("escape").c_str()), 0);
  ASSERT_EQ(::symlink("/etc/shadow", dir.file("shadow").c_str()), 0);
  ASSERT_EQ(::symlink("inside.txt", dir.file("alias.txt").c_str()), 0);
  ASSERT_EQ(::symlink(outside.path().c_str(), dir.file("outdir").c_str()), 0);
  const CliRun r =
      cli().run({"run", "--no-stream", "--files", dir.path(), "--cmd",
                 "cd /sandbox && ls -A | sort && cat alias.txt; cat escape outdir/host-secret"});
  EXPECT_FALSE(contains(r.out, "HOST SECRET")) << describe(r);
  EXPECT_TRUE(contains(r.out, "alias.txt\ninside.txt\n")) << describe(r);
  EXPECT_TRUE(contains(r.out, "inside\n")) << describe(r);
  EXPECT_FALSE(contains(r.out, "shadow")) << describe(r);
  EXPECT_TRUE(contains(r.err, "not following symlink escape")) << describe(r);
}

TEST_P(FilesCli, NotADirectoryIsAClearError) {
  TempDir dir;
  ASSERT_TRUE(spit(dir.file("f"), "x"));
  for (const std::string& path : {dir.file("f"), dir.file("missing")}) {
    const CliRun r = cli().run({"run", "--files", path, "-e", "print(1)"});
    EXPECT_EQ(r.exit_code, 1) << describe(r);
    EXPECT_TRUE(contains(r.err, "--files path is not a directory")) << describe(r);
  }
}

TEST_P(Files, LibraryFilesAreWrittenAndPathsMayNotEscapeSandbox) {
  ExecutionRequest req = bash_request("cat /sandbox/a/b/c.txt rel.txt");
  req.files["/sandbox/a/b/c.txt"] = "nested\n";
  req.files["rel.txt"] = "relative\n";
  auto ok = execute_once(options(), req);
  ASSERT_TRUE(ok) << ok.error().message;
  EXPECT_EQ(ok->stdout_data, "nested\nrelative");

  for (const char* bad : {"/etc/passwd", "/sandbox/../etc/x", "/sandbox", "/tmp/x", "../x"}) {
    ExecutionRequest evil = bash_request("true");
    evil.files[bad] = "x";
    auto r = execute_once(options(), evil);
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().message, std::string("File path must be inside /sandbox: ") + bad);
  }
}

TEST_P(FilesCli, FilesLargerThanTheSandboxAreRefused) {
  TempDir dir;
  ASSERT_TRUE(spit(dir.file("big"), std::string(3 << 20, 'x')));
  const CliRun r =
      cli().run({"run", "--sandbox-size", "1m", "--files", dir.path(), "--cmd", "true"});
  EXPECT_EQ(r.exit_code, 1) << describe(r);
  EXPECT_TRUE(contains(r.err, "holds more than")) << describe(r);
}

ISOL8_BACKEND_SUITE(Files);
ISOL8_CLI_SUITE(FilesCli);

}  // namespace
}  // namespace isol8::test
