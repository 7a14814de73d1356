#pragma once
// The boundary between the engine (request semantics, output processing, results) and the ways
// of running a sandbox. A backend runs one fully resolved RunSpec and feeds raw output to a sink.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "isol8/result.h"
#include "isol8/run_control.h"
#include "isol8/types.h"

namespace isol8 {

enum class OutputStream { kStdout, kStderr };

class OutputSink {
 public:
  virtual ~OutputSink() = default;
  virtual void on_output(OutputStream stream, std::string_view data) = 0;
  // Output of the setup phase (only with setup commands or a setup script).
  virtual void on_setup_output(OutputStream /*stream*/, std::string_view /*data*/) {}
  // Called once when the setup phase ends (only with setup commands or a setup script).
  virtual void on_setup_exit(int /*exit_code*/) {}
};

// The shell that runs setup scripts; the root must have it.
inline constexpr const char* kSetupShell = "/bin/bash";

// The permission bits a written file gets unless told otherwise.
inline constexpr uint32_t kDefaultFileMode = 0644;

struct CodeFile {
  std::string path;  // absolute path inside the sandbox
  std::string content;
  uint32_t mode = kDefaultFileMode;  // permission bits only (at most 0777)
};

struct ResourceLimits {
  uint64_t memory_bytes = 512ull << 20;
  double cpus = 1.0;
  uint64_t pids = 64;
};

// One command of the setup phase (today: package installs), run before the setup script as the
// sandbox user, in the working directory, with stdin /dev/null and its output delivered with
// phase "setup". Never through a shell: argv is exec'd as it is.
struct SetupCommand {
  std::vector<std::string> argv;          // argv[0] is an absolute path inside the root
  std::vector<std::string> env;           // KEY=VALUE added to (replacing in) RunSpec::env
  std::chrono::milliseconds timeout{0};   // its own time limit; 0: RunSpec::timeout
  std::string label = "Package install";  // a failure is "<label> failed (exit code N): ..."
};

// One execution, fully resolved by the engine.
struct RunSpec {
  std::vector<std::string> argv;  // argv[0] is the interpreter's absolute path inside the root
  std::vector<std::string> env;   // KEY=VALUE
  std::string stdin_data;
  std::optional<CodeFile> code_file;
  std::vector<CodeFile> files;  // written (parent directories created) before any phase runs
  // Run by `/bin/bash -c` as the sandbox user before argv, with the same env; its output is
  // delivered with phase "setup" and a non-zero exit ends the run before argv starts.
  std::string setup_script;
  // Run one after the other before the setup script; the first non-zero exit ends the run.
  std::vector<SetupCommand> setup_commands;
  std::string workdir = "/sandbox";
  std::chrono::milliseconds timeout{30000};
  NetworkMode network = NetworkMode::kNone;
  uint64_t sandbox_size_bytes = 512ull << 20;
  uint64_t tmp_size_bytes = 256ull << 20;
  std::string root_dir;  // empty: the host's read-only system directories
  std::string image;     // the Docker backend's image (e.g. isol8:python)
  std::string runtime;   // the runtime's name (python, ...), for labels
  NetworkFilter network_filter;
  bool log_network = false;
  ResourceLimits limits;
};

struct RunOutcome {
  int exit_code = 0;
  int term_signal = 0;  // the signal that ended the program, 0 if it exited
  bool timed_out = false;
  bool cancelled = false;
  bool oom_killed = false;
  std::chrono::milliseconds duration{0};
  ResourceUsage usage;
  LimitReport limits;
  // Set when the setup script failed: its exit code; the code phase did not run.
  std::optional<int> setup_failed_exit;
  // Which of RunSpec::setup_commands failed or ran out of time; none: the setup script.
  std::optional<size_t> setup_failed_command;
  bool setup_timed_out = false;  // the time limit ended the setup phase (timed_out is set too)
  std::vector<NetworkLogEntry> network_logs;
};

// Whether `spec` has a setup phase at all.
inline bool has_setup_phase(const RunSpec& spec) {
  return !spec.setup_script.empty() || !spec.setup_commands.empty();
}

class Backend {
 public:
  virtual ~Backend() = default;
  virtual const char* name() const = 0;
  // Checks that `path` (absolute, inside the sandbox's root) names an executable file.
  virtual bool has_executable(const std::string& root_dir, const std::string& path) const = 0;
  virtual Result<RunOutcome> run(const RunSpec& spec, OutputSink& sink,
                                 const RunControl& control) = 0;
};

}  // namespace isol8
