// How the CLI hands a run's output on, on every backend: a reader of its output that goes away
// ends the run at once (exit 141, nothing left behind), streaming and --no-stream end a
// truncated output the same way, memory stays flat however much the program prints, and
// --files keeps the permission bits (an executable script runs as ./run.sh).

#include <sys/stat.h>

#include <filesystem>
#include <regex>

#include "support/test_support.h"

namespace isol8::test {
namespace {

namespace fs = std::filesystem;

// isol8-<pid>-* cgroup directories of one runner under every hierarchy's isol8/ parent.
size_t cgroups_of(pid_t runner) {
  size_t n = 0;
  std::error_code ec;
  const std::string prefix = "isol8-" + std::to_string(runner) + "-";
  for (const auto& hierarchy : fs::directory_iterator("/sys/fs/cgroup", ec)) {
    for (const auto& entry : fs::directory_iterator(hierarchy.path() / "isol8", ec)) {
      if (entry.path().filename().string().starts_with(prefix)) ++n;
    }
  }
  return n;
}

// ---- a closed output pipe

// The CLI with its stdout (or its stderr) going to `reader` through a pipe that only the CLI
// and the reader hold; the launcher reports the CLI's pid and exit status on its stderr.
struct PipedRun {
  CliRun run;
  pid_t pid = -1;
  int exit_code = -1;
};

class ClosedOutput : public CliBackendTest {
 protected:
  PipedRun run_piped(const std::vector<std::string>& args, const std::string& reader,
                     bool stderr_only = false) const {
    CliOptions o = cli().options();
    const std::string redirect = stderr_only ? "2>&3" : ">&3";
    o.launcher = {"/bin/bash", "-c",
                  "exec 3> >(" + reader + ")\n" +      //
                      "\"$@\" " + redirect + " &\n" +  // the CLI alone holds the pipe...
                      "pid=$!\n"
                      "exec 3>&-\n"  // ...with the reader
                      "wait $pid\n"
                      "echo \"piped-cli pid=$pid exit=$?\" >&2\n",
                  "launcher"};
    PipedRun p;
    p.run = run_cli_with(cli().args(args), o);
    std::smatch m;
    static const std::regex report("piped-cli pid=([0-9]+) exit=([0-9]+)");
    if (std::regex_search(p.run.err, m, report)) {
      p.pid = std::stoi(m[1]);
      p.exit_code = std::stoi(m[2]);
    }
    return p;
  }

  void expect_ended_by_the_closed_pipe(const PipedRun& p) const {
    ASSERT_GT(p.pid, 0) << describe(p.run);
    EXPECT_FALSE(p.run.hung) << describe(p.run);
    // As a process killed by SIGPIPE; the time limit (60 s) never came into it.
    EXPECT_EQ(p.exit_code, 141) << describe(p.run);
    EXPECT_FALSE(contains(p.run.err, "TIMED OUT")) << describe(p.run);
    EXPECT_EQ(cgroups_of(p.pid), 0u) << "cgroups of the CLI left behind";
  }
};

TEST_P(ClosedOutput, StreamingYesIntoHeadEndsTheRun) {
  const PipedRun p = run_piped({"run", "--timeout", "60000", "-r", "bash", "-e", "yes"}, "head -1");
  EXPECT_EQ(p.run.out, "y\n") << describe(p.run);
  expect_ended_by_the_closed_pipe(p);
}

TEST_P(ClosedOutput, NoStreamRunEndsWhenTheReaderIsGone) {
  // Nothing is written before the run ends: the reader's going away alone must end it.
  const PipedRun p = run_piped(
      {"run", "--no-stream", "--timeout", "60000", "-r", "bash", "-e", "sleep 120"}, "exec true");
  EXPECT_EQ(p.run.out, "") << describe(p.run);
  expect_ended_by_the_closed_pipe(p);
}

TEST_P(ClosedOutput, JsonRunEndsWhenTheReaderIsGone) {
  const PipedRun p = run_piped(
      {"run", "--json", "--timeout", "60000", "-r", "bash", "-e", "sleep 120"}, "exec true");
  expect_ended_by_the_closed_pipe(p);
}

TEST_P(ClosedOutput, ClosedStderrEndsTheRunToo) {
  const PipedRun p = run_piped({"run", "--timeout", "60000", "-r", "bash", "-e", "yes >&2"},
                               "head -1 >/dev/null", /*stderr_only=*/true);
  EXPECT_EQ(p.run.out, "") << describe(p.run);
  expect_ended_by_the_closed_pipe(p);
}

TEST_P(ClosedOutput, AReaderThatStaysGetsEverything) {
  const PipedRun p = run_piped({"run", "-r", "bash", "-e", "seq 3; exit 7"}, "cat");
  ASSERT_GT(p.pid, 0) << describe(p.run);
  EXPECT_EQ(p.exit_code, 7) << describe(p.run);
  EXPECT_EQ(p.run.out, "1\n2\n3\n") << describe(p.run);
}

ISOL8_CLI_SUITE(ClosedOutput);

// ---- truncation ends the same way in both modes

class TruncationEnding : public CliBackendTest {
 protected:
  CliRun run(const std::string& code, bool no_stream) const {
    std::vector<std::string> a = {"run", "--max-output", "1000", "-e", code};
    if (no_stream) a.push_back("--no-stream");
    return cli().run(a);
  }
};

std::string last_line(const std::string& text) {
  const std::string trimmed = rtrim(text);
  const size_t nl = trimmed.rfind('\n');
  return nl == std::string::npos ? trimmed : trimmed.substr(nl + 1);
}

TEST_P(TruncationEnding, StdoutEndsAlikeStreamedOrNot) {
  const std::string code = "print('x' * 5000)";
  const CliRun streamed = run(code, false);
  const CliRun buffered = run(code, true);
  ASSERT_EQ(streamed.exit_code, 0) << describe(streamed);
  ASSERT_EQ(buffered.exit_code, 0) << describe(buffered);
  const std::string expected =
      std::string(1000, 'x') + "\n\n--- OUTPUT TRUNCATED (5001 bytes, limit: 1000) ---\n";
  EXPECT_EQ(streamed.out, expected) << describe(streamed);
  EXPECT_EQ(buffered.out, expected) << describe(buffered);
  EXPECT_EQ(last_line(streamed.err), "[WARN] Output was truncated") << describe(streamed);
  EXPECT_EQ(last_line(buffered.err), "[WARN] Output was truncated") << describe(buffered);
}

TEST_P(TruncationEnding, StderrEndsAlikeStreamedOrNot) {
  const std::string code = "import sys; sys.stderr.write('e' * 3000)";
  const CliRun streamed = run(code, false);
  const CliRun buffered = run(code, true);
  ASSERT_EQ(streamed.exit_code, 0) << describe(streamed);
  ASSERT_EQ(buffered.exit_code, 0) << describe(buffered);
  const std::string marked =
      std::string(1000, 'e') + "\n\n--- OUTPUT TRUNCATED (3000 bytes, limit: 1000) ---\n";
  const std::string warning = "[WARN] Output was truncated\n";
  EXPECT_TRUE(without_warnings(streamed.err) == marked) << describe(streamed);
  EXPECT_TRUE(without_warnings(buffered.err) == marked) << describe(buffered);
  EXPECT_TRUE(streamed.err.ends_with(marked + warning)) << describe(streamed);
  EXPECT_TRUE(buffered.err.ends_with(marked + warning)) << describe(buffered);
}

TEST_P(TruncationEnding, UntruncatedOutputHasNoWarning) {
  const CliRun r = run("print('short')", false);
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_EQ(r.out, "short\n");
  EXPECT_FALSE(contains(r.err, "truncated")) << describe(r);
}

ISOL8_CLI_SUITE(TruncationEnding);

// ---- memory stays flat

// The CLI's stdout goes through `consumer` (a shell command reading its stdin) instead of into
// this process, and the CLI's own peak RSS is read by /usr/bin/time: the peak that a spawned
// child reports starts at its parent's (posix_spawn shares the parent's memory until the exec),
// so neither this test process's size nor the output may count.
class OutputMemory : public BackendTest {
 protected:
  CliRun run_into(const std::vector<std::string>& args, const std::string& consumer) const {
    TempDir dir("isol8-output-memory");
    const std::string rss_file = dir.file("max-rss-kb");
    CliOptions o = cli().options();
    o.launcher = {
        "/bin/bash", "-c",
        "set -o pipefail; /usr/bin/time -f %M -o '" + rss_file + "' \"$@\" | { " + consumer + "; }",
        "launcher"};
    CliRun r = run_cli_with(cli().args(args), o);
    // Never a silent 0 that any bound would accept: no figure is a failure.
    const std::string measured = fs::exists(rss_file) ? slurp_trimmed(rss_file) : "";
    if (measured.empty() || measured.find_first_not_of("0123456789") != std::string::npos) {
      ADD_FAILURE() << "/usr/bin/time gave no peak RSS: \"" << measured << "\"";
      r.max_rss_kb = -1;
    } else {
      r.max_rss_kb = std::stol(measured);
    }
    return r;
  }
};

// 80 MB under a 50 MB cap: buffering the kept part alone would take 50 MB. Streaming needs only
// the masking window; the bound leaves room for the runner itself.
TEST_P(OutputMemory, StreamingEightyMegabytesUnderAFiftyMegabyteCap) {
  // What follows the first 50 MB: the marker alone, so the kept part was exactly the cap.
  const CliRun r = run_into({"run", "--max-output", "50000000", "--secret", "K=sk-98765", "--cmd",
                             "yes | head -c 80000000; echo sk-98765"},
                            "head -c 50000000 >/dev/null; cat");
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  // The secret's line counts as "***\n" (masking comes before the cap).
  EXPECT_EQ(r.out, "\n\n--- OUTPUT TRUNCATED (80000004 bytes, limit: 50000000) ---\n");
  std::cout << "[ measured ] streaming 80 MB, cap 50 MB: CLI peak RSS " << r.max_rss_kb << " KiB\n";
  EXPECT_LT(r.max_rss_kb, 40 * 1024) << "peak RSS of the CLI in KiB";
}

// --no-stream keeps at most the cap per stream: 30 MB here, never a second copy of it.
TEST_P(OutputMemory, NoStreamKeepsAtMostTheCap) {
  const CliRun r = run_into(
      {"run", "--no-stream", "--max-output", "30000000", "--cmd", "yes | head -c 80000000"},
      "head -c 30000000 >/dev/null; cat");
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_EQ(r.out, "\n\n--- OUTPUT TRUNCATED (80000000 bytes, limit: 30000000) ---\n");
  std::cout << "[ measured ] --no-stream 80 MB, cap 30 MB: CLI peak RSS " << r.max_rss_kb
            << " KiB\n";
  EXPECT_LT(r.max_rss_kb, 30000 + 30 * 1024) << "peak RSS of the CLI in KiB";
}

TEST_P(OutputMemory, JsonKeepsAtMostTheCap) {
  const CliRun r =
      run_into({"run", "--json", "--max-output", "30000000", "--cmd", "yes | head -c 80000000"},
               "tail -c 300");
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_TRUE(contains(r.out, "\"truncated\":true")) << r.out;
  std::cout << "[ measured ] --json 80 MB, cap 30 MB: CLI peak RSS " << r.max_rss_kb << " KiB\n";
  EXPECT_LT(r.max_rss_kb, 30000 + 30 * 1024) << "peak RSS of the CLI in KiB";
}

// Not through a server (yet): the remote client reads a buffered result as one JSON document, and
// the body, the parser's token and the parsed string hold a 30 MB output about four times over.
ISOL8_BACKEND_SUITE(OutputMemory);

// ---- --files keeps the permission bits

class FilesModes : public CliBackendTest {
 protected:
  std::string make_file(const std::string& dir, const std::string& name, const std::string& content,
                        mode_t mode) const {
    const std::string path = dir + "/" + name;
    EXPECT_TRUE(spit(path, content)) << path;
    EXPECT_EQ(::chmod(path.c_str(), mode), 0) << path;
    return path;
  }
};

TEST_P(FilesModes, AnExecutableScriptRunsAsDotSlash) {
  const std::string dir = cli().dir().file("project");
  ASSERT_TRUE(fs::create_directories(dir + "/bin"));
  make_file(dir, "run.sh", "#!/bin/bash\necho \"ran $1\"\n", 0755);
  make_file(dir, "bin/tool", "#!/bin/bash\necho tool\n", 0750);
  const CliRun r = cli().run({"run", "--files", dir, "--cmd", "./run.sh ok && bin/tool"});
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_EQ(r.out, "ran ok\ntool\n");
}

TEST_P(FilesModes, PermissionBitsAreKeptSpecialBitsDropped) {
  const std::string dir = cli().dir().file("project");
  ASSERT_TRUE(fs::create_directories(dir));
  make_file(dir, "plain.txt", "p\n", 0644);
  make_file(dir, "private.txt", "p\n", 0600);
  make_file(dir, "shared.txt", "p\n", 0664);
  make_file(dir, "readonly.txt", "p\n", 0444);
  make_file(dir, "setuid.sh", "#!/bin/bash\n", 04755);
  make_file(dir, "setgid.sh", "#!/bin/bash\n", 02755);
  make_file(dir, "sticky.txt", "p\n", 01644);
  struct stat st {};
  ASSERT_EQ(::stat((dir + "/setuid.sh").c_str(), &st), 0);
  ASSERT_NE(st.st_mode & S_ISUID, 0u) << "the test could not set the setuid bit";
  const CliRun r = cli().run({"run", "--files", dir, "--cmd", "stat -c '%a %n' *"});
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_EQ(r.out,
            "644 plain.txt\n"
            "600 private.txt\n"
            "444 readonly.txt\n"
            "755 setgid.sh\n"
            "755 setuid.sh\n"
            "664 shared.txt\n"
            "644 sticky.txt\n")
      << describe(r);
}

ISOL8_CLI_SUITE(FilesModes);

}  // namespace
}  // namespace isol8::test
