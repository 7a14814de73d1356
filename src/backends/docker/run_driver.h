#pragma once
// Streams one started run (a container's attach stream or an exec's) to the sink: the setup
// phase's marker taken out of the output, each phase's time limit (the setup script's, then the
// program's, which starts when the marker arrives), the kill on timeout or cancel, and the
// outcome. Shared by one-shot containers, pooled execs and the execs of a session.

#include <chrono>
#include <functional>
#include <optional>
#include <string>

#include "backends/backend.h"
#include "backends/docker/invocation.h"
#include "backends/docker/transport.h"

namespace isol8::docker {

// How a started run ends, the one thing a container of its own, a pooled exec and a session's
// exec do differently: what kills it, and where its exit code and OOM verdict come from.
struct Ending {
  std::function<void()> kill;
  // Fills exit_code and oom_killed once the output has ended; `deadline` is the running phase's
  // time limit, for a process still running after closing its output (it may set timed_out).
  std::function<Result<void>(RunOutcome&, std::chrono::steady_clock::time_point deadline)> collect;
  // When set, the first line of stdout is "<kPidLinePrefix><pid>\n" (written by a trusted
  // prelude before the program starts): it is taken out of the output and reported here.
  std::function<void(int)> on_pid;
};

inline constexpr std::string_view kPidLinePrefix = "isol8-pid:";

// 128 random bits, hex, for the setup marker of one run.
std::string random_marker();

Result<RunOutcome> drive_run(const RunSpec& spec, OutputSink& sink, const RunControl& control,
                             const Invocation& inv, HijackedStream& stream,
                             std::chrono::steady_clock::time_point started_at,
                             const Ending& ending);

// The daemon's "No such image" turned into the hint to run `isol8 setup --backend docker`.
Error image_error(const std::string& image, const Error& e);

}  // namespace isol8::docker
