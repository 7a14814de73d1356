#pragma once
// Drives one hijacked attach/exec connection: writes the stdin payload, then what the live stdin
// source yields until its EOF when there is one (RunControl::stdin_fd), then half-closes, which
// makes the daemon close the process's stdin; demultiplexes the output frames into the
// callback, and stops at EOF, at the deadline or when the cancel fd becomes readable. One poll
// loop handles both directions, so a program that writes a lot before reading its stdin cannot
// deadlock the runner.

#include <chrono>
#include <functional>
#include <string>
#include <string_view>

#include "backends/docker/demux.h"
#include "backends/docker/transport.h"

namespace isol8::docker {

struct PumpOutcome {
  bool timed_out = false;
  bool cancelled = false;
};

// `stdin_source`: the live stdin source, -1 for none. `deadline` is re-read on every wake-up, so
// the demux callback may move it (the per-phase time limit restarts when the setup phase ends).
Result<PumpOutcome> pump_stream(HijackedStream& stream, std::string_view stdin_payload,
                                const std::chrono::steady_clock::time_point& deadline,
                                int cancel_fd, FrameDemuxer& demux, int stdin_source = -1);

// After a kill: reads what is left for at most `grace`, delivering it, so that output written
// before the kill is not lost.
void drain_stream(HijackedStream& stream, std::chrono::milliseconds grace, FrameDemuxer& demux);

}  // namespace isol8::docker
