#pragma once
// How one run reaches the container in a single process start, with no extra exec per file:
//
//   stdin of the container's process = [tar of the files, exactly N bytes][the user's stdin]
//
// The process is a small bash bootstrap (kBootstrap) with argv
//   N  has_setup  marker  workdir  reap  relay  backstop  program argv...
// It does `head -c N | tar -x -C /`: GNU head reads at most the N bytes it was asked for, so the
// user's stdin stays in the pipe; tar, which reads whole records and would over-read, only ever
// sees head's output. It then creates the working directory, runs /tmp/.isol8-setup.sh (from the
// tar) as bash with stdin from /dev/null when there is one, and `exec`s the program, which
// inherits the rest of stdin. The tar holds the code file, RunSpec.files (parent directories are
// created by tar) and the setup script; members are relative paths under sandbox/ or tmp/.
//
// The setup phase's end is reported in-band: the bootstrap writes "\n<marker>:<exit code>\n" to
// stdout and to stderr after the setup script; SetupMarkerScanner removes it from each stream
// and reports the code. `marker` is 128 random bits per run.
//
// With `backstop` (images labelled kBackstopLabel, which have bash and sleep), the bootstrap also
// starts the backstop: a watcher that SIGKILLs the run when it is still going backstop_seconds()
// after it started, which only happens when the runner that should have killed it at its time
// limit was killed itself.
//
// When there are no files, no setup script, no backstop and the working directory is /sandbox, the
// program is the container's command itself (no bash in between) and stdin is just the user's
// stdin.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "backends/backend.h"

namespace isol8::docker {

extern const char* const kBootstrap;

// How much longer than its time limit(s) a run may go on before the backstop kills it: far more
// than a live runner needs to kill it (the runner's clock starts before the container's).
inline constexpr std::chrono::seconds kBackstopGrace{10};

// The backstop of a run, whole seconds from the bootstrap's start: the setup script's time limit
// (when there is one) plus the program's plus kBackstopGrace; 0 (none) without a time limit.
int64_t backstop_seconds(const RunSpec& spec);

// The setup phase's time limit on this backend: the sum of its steps' limits (the runner learns
// of the phase's end only, from the marker).
std::chrono::milliseconds setup_phase_limit(const RunSpec& spec);

struct Invocation {
  std::vector<std::string> cmd;  // the process to start
  std::string stdin_payload;     // everything to write to its stdin, then close
  bool has_setup = false;
  std::string marker;  // empty without a setup script
};

// Builds the tar and the command. Errors: a file path outside /sandbox and /tmp, or not
// normalised (`..`, `.`, empty components).
// `pooled`: always through the bootstrap, which then reaps (see kBootstrap). `backstop`: the image
// can run it (see above).
Result<Invocation> plan_invocation(const RunSpec& spec, const std::string& marker,
                                   bool pooled = false, bool backstop = false);

// A tar (ustar/pax, in memory) of path -> content, members named relative to /.
Result<std::string> make_tar(const std::vector<CodeFile>& files);

// Removes the setup marker from one output stream and reports the setup's exit code when the
// marker passes. Bytes that might be the start of a marker are held back until they are known
// not to be; finish() releases them.
class SetupMarkerScanner {
 public:
  explicit SetupMarkerScanner(std::string marker);
  struct Piece {
    std::string before;       // output of the setup phase (or all output when no marker)
    std::optional<int> exit;  // set when the marker was found in this piece
    size_t step = 0;          // with exit: the setup step that ended the phase
    std::string after;        // output after the marker (code phase)
  };
  Piece feed(std::string_view data);
  std::string finish();
  bool seen() const { return seen_; }

 private:
  std::string prefix_;  // "\n<marker>:"
  std::string held_;
  bool seen_ = false;
};

}  // namespace isol8::docker
