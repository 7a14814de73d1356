#pragma once
// The real isol8 binary, run the way a user runs it: arguments, stdin, a working directory and
// environment overrides, with a guard that turns a hang into a failed test.
//
//   run_cli({"run", "-e", "print(1)"})          one run, stdin fed, stdout/stderr collected
//   run_cli_with(args, CliOptions{...})         the same with a cwd, env, launcher, hang limit
//   CliProcess p(args, opts); p.signal(..); p.wait()   a CLI to signal while it runs
//   IsolatedCli cli; cli.run(args)              in a temp cwd/HOME of its own (no machine config)
//   describe(run)                               a readable summary for assertion messages

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "support/files.h"

namespace isol8::test {

// The binaries under test: the build's, unless ISOL8_TEST_BINARY / ISOL8_TEST_PROBE /
// ISOL8_TEST_RELAY name copies (scripts/test-rootless runs the suites as an unprivileged user
// from a copy it can read).
extern const char* const kIsol8Binary;
extern const char* const kProbeBinary;
extern const char* const kRelayBinary;
// The source tree (for profiles/ and other checked-in inputs).
extern const char* const kSourceDir;

struct CliOptions {
  std::string cwd;  // empty: this process's cwd
  // Variables to set (a value) or remove (nullopt) in the CLI's environment.
  std::map<std::string, std::optional<std::string>> env;
  std::string input;  // fed to the CLI's stdin, then EOF
  // A hung CLI is killed after this long and the run reports hung = true. Not a timing
  // assertion: only a bound so that a hang fails the test instead of blocking the suite.
  std::chrono::milliseconds hang_limit{120000};
  // A command the CLI runs under (its path first, e.g. unshare and a shell), which execs the CLI
  // path and arguments it gets after its own; empty: the CLI is spawned directly.
  std::vector<std::string> launcher;
};

struct CliResult {
  int exit_code = -1;  // 128 + signal when the CLI was killed
  std::string out;
  std::string err;
  double wall_ms = 0;
};

struct CliRun : CliResult {
  int spawn_error = 0;  // errno of posix_spawn, 0 when the CLI started
  bool hung = false;    // killed by the hang guard
  int term_signal = 0;  // the signal that ended the CLI itself, 0 if it exited
  long max_rss_kb = 0;  // peak RSS of the CLI and its reaped children
};

// A running CLI: started by the constructor (default signal dispositions, empty signal mask),
// SIGKILLed and reaped by the destructor unless wait() reaped it.
class CliProcess {
 public:
  CliProcess(const std::vector<std::string>& args, CliOptions opts);
  ~CliProcess();
  CliProcess(const CliProcess&) = delete;
  CliProcess& operator=(const CliProcess&) = delete;

  pid_t pid() const { return pid_; }
  bool started() const { return pid_ > 0; }
  int signal(int sig) const;

  // Feeds stdin, collects stdout/stderr until both close, then reaps the CLI.
  CliRun wait();

 private:
  void drain(int& fd, std::string& into, char* buf, size_t size);
  void close_all();

  CliOptions opts_;
  pid_t pid_ = -1;
  int spawn_error_ = 0;
  bool reaped_ = false;
  int in_ = -1, out_ = -1, err_ = -1;
  std::chrono::steady_clock::time_point start_;
};

CliRun run_cli_with(const std::vector<std::string>& args, CliOptions opts = {});

// run_cli_with() with only stdin.
CliRun run_cli(const std::vector<std::string>& args, const std::string& input = "");

// A readable summary of a CLI run for assertion messages.
std::string describe(const CliRun& r);

// The CLI in its own temporary working directory and HOME, so that no config file of the
// machine applies. With `id_map_base`, an isol8.config.json there sets native.idMapBase.
class IsolatedCli {
 public:
  explicit IsolatedCli(std::optional<uint32_t> id_map_base = std::nullopt);
  const TempDir& dir() const { return dir_; }
  // cwd and HOME set to dir(), `input` on stdin.
  CliOptions options(std::string input = "") const;
  CliRun run(const std::vector<std::string>& args, std::string input = "") const;

 private:
  TempDir dir_;
};

}  // namespace isol8::test
