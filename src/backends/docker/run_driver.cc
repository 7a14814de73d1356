#include "backends/docker/run_driver.h"

#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>

#include <charconv>
#include <cstring>

#include <fmt/format.h>

#include "backends/docker/demux.h"
#include "backends/docker/stream_pump.h"

namespace isol8::docker {
namespace {

using Clock = std::chrono::steady_clock;

// After a kill, output already on its way is still read for this long.
constexpr std::chrono::milliseconds kDrainGrace{500};

void fill_limits(RunOutcome& outcome) { outcome.limits.enforced = {"memory", "pids", "cpu"}; }

// Takes the prelude's pid line off the front of stdout (Ending::on_pid). Inactive without a
// callback. A line that does not parse is dropped all the same (it never came from the program,
// which starts after it).
class PidLine {
 public:
  explicit PidLine(const std::function<void(int)>& on_pid) : on_pid_(on_pid), done_(!on_pid) {}
  bool pending() const { return !done_; }
  // Returns what follows the line (empty while the line is incomplete).
  std::string_view feed(std::string_view data) {
    const auto nl = data.find('\n');
    const size_t take = nl == std::string_view::npos ? data.size() : nl;
    if (line_.size() < 64) line_.append(data.substr(0, std::min<size_t>(take, 64)));
    if (nl == std::string_view::npos) return {};
    done_ = true;
    if (line_.starts_with(kPidLinePrefix)) {
      int pid = 0;
      const char* first = line_.data() + kPidLinePrefix.size();
      const char* last = line_.data() + line_.size();
      if (auto [end, ec] = std::from_chars(first, last, pid); ec == std::errc() && end == last) {
        on_pid_(pid);
      }
    }
    return data.substr(nl + 1);
  }

 private:
  const std::function<void(int)>& on_pid_;
  bool done_;
  std::string line_;
};

// Delivers demultiplexed output to the sink, taking the setup marker out of each stream. The
// daemon copies stdout and stderr independently, so one stream's marker can arrive before the
// other stream's last setup output: code-phase output of the first stream is held back until the
// other stream's marker (or its end) has passed, and only then is on_setup_exit() called.
// Output before the marker is the setup's (OutputSink::on_setup_output: streamed with phase
// "setup", kept out of the result); `on_setup_end` runs when the first marker shows that the
// setup script has exited (the code phase's time limit starts then).
class SetupAwareOutput {
 public:
  SetupAwareOutput(OutputSink& sink, const std::string& marker, std::function<void()> on_setup_end)
      : sink_(sink),
        scanners_{SetupMarkerScanner(marker), SetupMarkerScanner(marker)},
        active_(!marker.empty()),
        on_setup_end_(std::move(on_setup_end)) {}

  void on_frame(FrameStream stream, std::string_view data) {
    if (stream == FrameStream::kStdin) return;
    const int i = stream == FrameStream::kStdout ? 0 : 1;
    const bool in_setup = active_ && !scanners_[i].seen();
    auto piece = scanners_[i].feed(data);
    if (!piece.before.empty()) deliver(i, piece.before, in_setup);
    if (piece.exit) {
      if (!code_ && on_setup_end_) on_setup_end_();
      code_ = *piece.exit;
      step_ = piece.step;
      passed_[i] = true;
    }
    if (!piece.after.empty()) {
      if (boundary_done_) {
        sink_.on_output(which(i), piece.after);
      } else {
        held_[i] += piece.after;
      }
    }
    if (active_ && !boundary_done_ && passed_[0] && passed_[1]) cross_boundary();
  }

  void finish() {
    for (int i = 0; i < 2; ++i) {
      const std::string rest = scanners_[i].finish();
      if (!rest.empty()) deliver(i, rest, active_ && !scanners_[i].seen());
    }
    if (active_ && !boundary_done_ && code_) cross_boundary();
  }

  std::optional<int> setup_exit() const { return code_; }
  size_t setup_step() const { return step_; }

 private:
  static OutputStream which(int i) {
    return i == 0 ? OutputStream::kStdout : OutputStream::kStderr;
  }

  // Output that precedes the stream's marker is the setup's.
  void deliver(int i, std::string_view data, bool setup_phase) {
    if (setup_phase) {
      sink_.on_setup_output(which(i), data);
    } else {
      sink_.on_output(which(i), data);
    }
  }

  void cross_boundary() {
    boundary_done_ = true;
    sink_.on_setup_exit(*code_);
    for (int i = 0; i < 2; ++i) {
      if (!held_[i].empty()) sink_.on_output(which(i), held_[i]);
      held_[i].clear();
    }
  }

  OutputSink& sink_;
  SetupMarkerScanner scanners_[2];
  const bool active_;
  std::function<void()> on_setup_end_;
  bool passed_[2] = {false, false};
  bool boundary_done_ = false;
  std::string held_[2];
  std::optional<int> code_;
  size_t step_ = 0;
};

}  // namespace

std::string random_marker() {
  unsigned char bytes[16] = {};
  if (::getrandom(bytes, sizeof bytes, 0) != static_cast<ssize_t>(sizeof bytes)) {
    // getrandom on Linux >= 3.17 does not fail for 16 bytes; keep a usable value anyway.
    const auto t = Clock::now().time_since_epoch().count();
    std::memcpy(bytes, &t, sizeof t);
  }
  std::string out = "ISOL8-SETUP-";
  for (unsigned char b : bytes) out += fmt::format("{:02x}", b);
  return out;
}

Error image_error(const std::string& image, const Error& e) {
  if (e.code == 404 && e.message.find("No such image") != std::string::npos) {
    return make_error(fmt::format(
        "Docker image {} not found. Run `isol8 setup --backend docker` to import the runtime "
        "images (or pass --image <name>).",
        image));
  }
  return e;
}

// Streams a started run to the sink with the time limit of each phase (the setup script's,
// then the program's, which starts when the setup's marker arrives), kills it on timeout or
// cancel, and fills in the outcome.
Result<RunOutcome> drive_run(const RunSpec& spec, OutputSink& sink, const RunControl& control,
                             const Invocation& inv, HijackedStream& stream,
                             Clock::time_point started_at, const Ending& ending) {
  Clock::time_point deadline =
      started_at + (inv.has_setup ? setup_phase_limit(spec) : spec.timeout);
  SetupAwareOutput output(sink, inv.marker, [&] { deadline = Clock::now() + spec.timeout; });
  PidLine pid_line(ending.on_pid);
  FrameDemuxer demux([&](FrameStream s, std::string_view d) {
    if (s == FrameStream::kStdout && pid_line.pending()) d = pid_line.feed(d);
    if (!d.empty()) output.on_frame(s, d);
  });
  auto pumped =
      pump_stream(stream, inv.stdin_payload, deadline, control.cancel_fd, demux, control.stdin_fd);
  if (!pumped) return std::move(pumped).error();
  RunOutcome outcome;
  fill_limits(outcome);
  if (pumped->timed_out || pumped->cancelled) {
    // A cancelled run's output is of no use any more (its reader may be gone): the attach
    // stream is closed before the kill, so that the daemon never blocks writing a flood (yes)
    // into a stream nobody reads while it processes the container's exit, which held the
    // kill request forever.
    if (pumped->cancelled) ::shutdown(stream.fd.get(), SHUT_RDWR);
    ending.kill();
    drain_stream(stream, kDrainGrace, demux);
    output.finish();
    outcome.timed_out = pumped->timed_out;
    outcome.cancelled = pumped->cancelled;
    // The setup script never reported its end: the setup phase ran out of time.
    outcome.setup_timed_out = pumped->timed_out && inv.has_setup && !output.setup_exit();
    // Only the phase's end is reported: a setup phase of installs alone ran out of time in one
    // of them (the first is named).
    if (outcome.setup_timed_out && spec.setup_script.empty() && !spec.setup_commands.empty()) {
      outcome.setup_failed_command = 0;
    }
    outcome.exit_code = 137;
    outcome.term_signal = 9;
  } else {
    output.finish();
    ISOL8_TRY(ending.collect(outcome, deadline));
  }
  outcome.duration =
      std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started_at);
  outcome.usage.wall_ms = outcome.duration.count();
  outcome.usage.cpu_and_memory_measured = false;
  if (!outcome.setup_timed_out && output.setup_exit() && *output.setup_exit() != 0) {
    outcome.setup_failed_exit = *output.setup_exit();
    if (output.setup_step() < spec.setup_commands.size()) {
      outcome.setup_failed_command = output.setup_step();
    }
  }
  return outcome;
}

}  // namespace isol8::docker
