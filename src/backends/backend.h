#pragma once
// The boundary between the engine (request semantics, output processing, results) and the ways
// of running a sandbox. A backend runs one fully resolved RunSpec and feeds raw output to a sink.

#include <chrono>
#include <cstdint>
#include <memory>
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
  // Options::persist: the sandbox is left running after the run for inspection (Session::keep).
  bool persist = false;
};

struct RunOutcome {
  int exit_code = 0;
  int term_signal = 0;  // the signal that ended the program, 0 if it exited
  bool timed_out = false;
  bool cancelled = false;
  bool oom_killed = false;
  bool pids_limit_hit = false;  // a fork was refused at the pids limit
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

// Limits of file transfer into and out of a session.
inline constexpr uint64_t kMaxTransferBytes = 1ull << 40;

// A sandbox that outlives one execution: the sandbox of a persistent engine. Destroying it stops
// the sandbox and removes everything it made (processes, cgroup, mounts, network, container).
// Calls are not concurrent: the engine serializes them.
class Session {
 public:
  virtual ~Session() = default;
  // The sandbox's id (the container id on Docker; the native sandbox's name), for results,
  // logs and `isol8 cleanup`.
  virtual const std::string& id() const = 0;
  // Runs one execution inside the sandbox. The sandbox-level fields of `spec` (network,
  // network_filter, log_network, sandbox/tmp sizes, root_dir, image, runtime, limits) were fixed
  // by open_session and are ignored here; the rest (argv, env, stdin, code file, files, setup
  // script, workdir, timeout) are this execution's. A timeout or cancel ends this execution's
  // processes, not the sandbox. network_logs in the outcome are this execution's only.
  virtual Result<RunOutcome> run(const RunSpec& spec, OutputSink& sink,
                                 const RunControl& control) = 0;
  // `path` is absolute and normalised (no "." or ".." components, no trailing "/"), under
  // /sandbox or /tmp (the engine checks that). The file is written as the sandbox user (uid 100,
  // parents created as that user, `mode` applied); it is refused when any component is a symlink
  // leading out of /sandbox or /tmp or a magic link, or when it is not a regular file. Binary-safe.
  virtual Result<void> put_file(const std::string& path, std::string_view content,
                                uint32_t mode) = 0;
  // Reads a regular file the sandbox user can read, under the same path rules; refused when it
  // is larger than `max_bytes`.
  virtual Result<std::string> get_file(const std::string& path, uint64_t max_bytes) = 0;
  // Leaves the sandbox running when this object goes (Options::persist), for the user to
  // inspect and remove; only sandboxes that can outlive their runner can. Returns how to reach
  // and remove it, in the backend's own terms. `lifetime` bounds a sandbox that nobody owns
  // once its runner is gone (native); a container stays until it is removed (docker).
  virtual Result<std::string> keep(std::chrono::seconds lifetime) {
    (void)lifetime;
    return make_error("this backend's sandboxes cannot outlive their runner");
  }
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual const char* name() const = 0;
  // Checks that `path` (absolute, inside the sandbox's root) names an executable file.
  virtual bool has_executable(const std::string& root_dir, const std::string& path) const = 0;
  virtual Result<RunOutcome> run(const RunSpec& spec, OutputSink& sink,
                                 const RunControl& control) = 0;
  // Starts a sandbox for a persistent engine from the sandbox-level fields of `spec` (see
  // Session::run); nothing runs in it yet.
  virtual Result<std::unique_ptr<Session>> open_session(const RunSpec& spec) {
    (void)spec;
    return make_error(std::string("Persistent sessions are not supported by the ") + name() +
                      " backend yet");
  }
};

}  // namespace isol8
