#include "isol8/engine.h"

#include <signal.h>

#include <algorithm>
#include <array>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "audit/audit_log.h"
#include "backends/backend.h"
#include "common/text.h"
#include "common/trace.h"
#include "core/audit_hook.h"
#include "core/base64.h"
#include "core/ids.h"
#include "core/output_limiter.h"
#include "core/package_install.h"
#include "core/remote_code_source.h"
#include "core/run_preparation.h"
#include "core/secret_masker.h"
#include "isol8/options.h"

namespace isol8 {
namespace {

// Masks, caps and delivers output: to the stream callback as it arrives, and into the buffers
// of the final result.
class ProcessingSink final : public OutputSink {
 public:
  // `keep_text`: also keep the code's output for the result (always for setup output, whose
  // stderr a failed setup's error quotes).
  ProcessingSink(const std::vector<std::string>& secrets, uint64_t limit,
                 const StreamCallback* on_event, bool keep_text)
      : streams_{Stream{SecretMasker(secrets), OutputLimiter(limit), {}},
                 Stream{SecretMasker(secrets), OutputLimiter(limit), {}}},
        setup_streams_{Stream{SecretMasker(secrets), OutputLimiter(limit), {}},
                       Stream{SecretMasker(secrets), OutputLimiter(limit), {}}},
        on_event_(on_event),
        keep_text_(keep_text),
        text_bound_(std::min<uint64_t>(limit + kMarkerRoom, kMaxReserve)) {}

  void on_output(OutputStream which, std::string_view data) override {
    Stream& s = stream(which);
    deliver(which, s.masker.feed(data));
  }

  // Setup output is masked and capped like the code's, streamed with phase "setup", and kept
  // apart: its stderr goes into the error of a failed setup, not into the result.
  void on_setup_output(OutputStream which, std::string_view data) override {
    Stream& s = setup_stream(which);
    emit_setup(which, s.masker.feed(data));
  }

  void on_setup_exit(int exit_code) override {
    for (OutputStream which : {OutputStream::kStdout, OutputStream::kStderr}) {
      emit_setup(which, setup_stream(which).masker.finish());
    }
    setup_finished_ = true;
    // A failed setup's exit event follows its error event (sent by the engine).
    if (exit_code == 0) send(StreamEvent::Type::kExit, "0", "setup");
  }

  // Flushes setup output held back by the masker (when the setup never reported its exit).
  void finish_setup() {
    if (setup_finished_) return;
    for (OutputStream which : {OutputStream::kStdout, OutputStream::kStderr}) {
      emit_setup(which, setup_stream(which).masker.finish());
    }
  }

  const std::string& setup_text(OutputStream which) { return setup_stream(which).text; }

  // Flushes held-back text and appends the truncation markers.
  void finish() {
    for (OutputStream which : {OutputStream::kStdout, OutputStream::kStderr}) {
      Stream& s = stream(which);
      deliver(which, s.masker.finish());
      const std::string rest = s.limiter.finish();
      if (!rest.empty()) emit(which, rest, /*bypass_limit=*/true);
      // The marker ends its line, so that whatever follows (the CLI's warning, a prompt) starts
      // on a line of its own; the result's text is trimmed at the end anyway.
      if (s.limiter.truncated()) emit(which, s.limiter.marker() + "\n", /*bypass_limit=*/true);
    }
  }

  bool truncated() const {
    return streams_[0].limiter.truncated() || streams_[1].limiter.truncated();
  }
  std::string& text(OutputStream which) { return stream(which).text; }

  void send(StreamEvent::Type type, std::string data, const char* phase = "code") {
    if (on_event_ != nullptr) (*on_event_)(StreamEvent{type, std::move(data), phase});
  }

 private:
  struct Stream {
    SecretMasker masker;
    OutputLimiter limiter;
    std::string text;
  };

  Stream& stream(OutputStream which) { return streams_[which == OutputStream::kStdout ? 0 : 1]; }
  Stream& setup_stream(OutputStream which) {
    return setup_streams_[which == OutputStream::kStdout ? 0 : 1];
  }

  void emit_setup(OutputStream which, const std::string& masked) {
    if (masked.empty()) return;
    Stream& s = setup_stream(which);
    const std::string kept = s.limiter.admit(masked);
    if (kept.empty()) return;
    append_kept(s.text, kept);
    send(which == OutputStream::kStdout ? StreamEvent::Type::kStdout : StreamEvent::Type::kStderr,
         kept, "setup");
  }

  void deliver(OutputStream which, const std::string& masked) {
    if (!masked.empty()) emit(which, masked, false);
  }

  void emit(OutputStream which, std::string_view data, bool bypass_limit) {
    Stream& s = stream(which);
    const std::string kept = bypass_limit ? std::string(data) : s.limiter.admit(data);
    if (kept.empty()) return;
    if (keep_text_) append_kept(s.text, kept);
    send(which == OutputStream::kStdout ? StreamEvent::Type::kStdout : StreamEvent::Type::kStderr,
         kept);
  }

  // A stream's kept text never exceeds the cap plus the marker. Once it outgrows a small
  // buffer, room for all of it is reserved at once, so that it is never moved to a larger block
  // (which would for a moment take twice its size); reserved pages never written cost nothing.
  void append_kept(std::string& text, std::string_view kept) const {
    const size_t needed = text.size() + kept.size();
    if (needed > text.capacity() && needed > kSmallText) {
      text.reserve(std::max<size_t>(needed, text_bound_));
    }
    text.append(kept);
  }

  static constexpr uint64_t kMarkerRoom = 128;         // the marker and its newline
  static constexpr uint64_t kMaxReserve = 1ull << 30;  // larger caps grow as strings do
  static constexpr size_t kSmallText = 64 * 1024;

  std::array<Stream, 2> streams_;
  std::array<Stream, 2> setup_streams_;
  bool setup_finished_ = false;
  const StreamCallback* on_event_;
  bool keep_text_;
  size_t text_bound_;
};

// Why the setup phase ended the run: "Setup script failed (exit code N): <stderr>", or for a
// setup command (a package install) "<label> failed (exit code N): <stderr>", a time limit
// reported as exit code 137.
std::string setup_failure_message(const RunSpec& spec, const RunOutcome& outcome,
                                  const std::string& err) {
  const SetupCommand* command = nullptr;
  if (outcome.setup_failed_command && *outcome.setup_failed_command < spec.setup_commands.size()) {
    command = &spec.setup_commands[*outcome.setup_failed_command];
  }
  const std::string label = command ? command->label : std::string("Setup script");
  std::string message;
  if (outcome.setup_timed_out) {
    const auto limit = command && command->timeout.count() > 0 ? command->timeout : spec.timeout;
    message = fmt::format("{} failed (exit code 137): timed out after {} ms", label, limit.count());
    if (!err.empty()) message += "\n" + err;
    return message;
  }
  message = fmt::format("{} failed (exit code {})", label, *outcome.setup_failed_exit);
  if (!err.empty()) message += ": " + err;
  return message;
}

constexpr const char* kNoActiveContainer =
    "No active container. Call execute() first in persistent mode.";

// outputPaths, checked before anything runs.
Result<std::vector<std::string>> resolve_output_paths(const std::vector<std::string>& paths) {
  std::vector<std::string> resolved;
  for (const auto& path : paths) {
    auto one = resolve_transfer_path(path);
    if (!one) return std::move(one).error().context("outputPaths");
    resolved.push_back(std::move(one).value());
  }
  return resolved;
}

// Reads the listed files back as base64, keyed by the path as the request gave it. A file that
// is missing, unreadable, not a regular file or over the cap is skipped, as upstream skips it.
std::map<std::string, std::string> read_output_files(Session& session,
                                                     const std::vector<std::string>& requested,
                                                     const std::vector<std::string>& resolved,
                                                     uint64_t cap) {
  std::map<std::string, std::string> files;
  for (size_t i = 0; i < resolved.size(); ++i) {
    auto content = session.get_file(resolved[i], cap);
    if (!content) {
      spdlog::debug("outputPaths: {} skipped: {}", requested[i], content.error().message);
      continue;
    }
    files[requested[i]] = base64_encode(*content);
  }
  return files;
}

}  // namespace

Result<std::unique_ptr<Engine>> Engine::create(Options options, BackendMaker backend_maker) {
  // Library callers get the CLI's start-up refusal too, before any backend or sandbox exists.
  ISOL8_TRY(check_host_patterns(options.network_filter.whitelist, "networkFilter.whitelist"));
  ISOL8_TRY(check_host_patterns(options.network_filter.blacklist, "networkFilter.blacklist"));
  if (options.persist && options.backend == BackendKind::kNative &&
      options.network == NetworkMode::kFiltered) {
    return make_error(
        "persist (keep the sandbox after the run) cannot keep a native sandbox with the filtered "
        "network: its proxy runs in the runner and ends with the run, leaving the sandbox "
        "without a network. Use --net none or --net host, or --backend docker");
  }
  auto backend = backend_maker(options);
  if (!backend) return std::move(backend).error();
  std::unique_ptr<Engine> engine(new Engine(std::move(options), std::move(backend).value()));
  if (engine->options_.audit.enabled) {
    engine->audit_ = std::make_unique<audit::AuditLog>(engine->options_.audit);
  }
  return engine;
}

Engine::Engine(Options options, std::unique_ptr<Backend> backend)
    : options_(std::move(options)), backend_(std::move(backend)) {}

Engine::~Engine() { stop(); }

Result<void> Engine::start() { return ok(); }

void Engine::stop() {
  std::unique_ptr<Session> session;
  {
    std::lock_guard lock(session_mutex_);
    session = std::move(session_);
    session_runtime_.clear();
    session_has_debs_ = false;
  }
  // Removed outside the lock: a sandbox's teardown may take a while.
  session.reset();
}

std::string Engine::container_id() const {
  std::lock_guard lock(session_mutex_);
  return session_ ? session_->id() : std::string();
}

Result<void> Engine::put_file(const std::string& path, std::string_view content) {
  auto resolved = resolve_transfer_path(path);
  if (!resolved) return std::move(resolved).error();
  std::lock_guard lock(session_mutex_);
  if (!session_) return make_error(kNoActiveContainer);
  return session_->put_file(*resolved, content, kDefaultFileMode);
}

Result<std::string> Engine::get_file(const std::string& path) {
  auto resolved = resolve_transfer_path(path);
  if (!resolved) return std::move(resolved).error();
  std::lock_guard lock(session_mutex_);
  if (!session_) return make_error(kNoActiveContainer);
  // A file can be no larger than the tmpfs that holds it.
  const uint64_t cap =
      resolved->starts_with("/tmp/") ? options_.tmp_size_bytes : options_.sandbox_size_bytes;
  return session_->get_file(*resolved, cap);
}

Result<ExecutionResult> Engine::execute(const ExecutionRequest& request,
                                        const RunControl& control) {
  return run(request, nullptr, control);
}

Result<ExecutionResult> Engine::execute_stream(const ExecutionRequest& request,
                                               const StreamCallback& on_event,
                                               const RunControl& control) {
  return run(request, &on_event, control);
}

Result<ExecutionResult> Engine::run(const ExecutionRequest& original,
                                    const StreamCallback* on_event, const RunControl& control) {
  const std::string started_at = audit_ ? iso_timestamp_now() : std::string();
  // A code URL is fetched here, by the runner, before the run is prepared
  // (core/remote_code_source.h).
  std::optional<ExecutionRequest> fetched;
  if (original.code_url && original.code_url->find_first_not_of(" \t\r\n") != std::string::npos) {
    auto with_code = with_remote_code(original, options_.remote_code);
    if (!with_code) return std::move(with_code).error();
    fetched = std::move(with_code).value();
  }
  const ExecutionRequest& request = fetched ? *fetched : original;
  auto prepared = prepare_run(request, options_, *backend_);
  if (!prepared) return std::move(prepared).error();
  // The audit's security events include the filter's denials, whether or not the caller asked
  // for the network log (which the result then does not carry).
  if (audit_) prepared->spec.log_network = true;
  trace::mark("run prepared (root selected)");
  spdlog::debug("{}: runtime={} argv0={} workdir={} timeout={}ms", backend_->name(),
                prepared->runtime->name, prepared->spec.argv.front(), prepared->spec.workdir,
                prepared->spec.timeout.count());

  // outputPaths are read back by non-streaming executions only, as upstream.
  std::vector<std::string> output_paths;
  if (on_event == nullptr && !request.output_paths.empty()) {
    auto resolved = resolve_output_paths(request.output_paths);
    if (!resolved) return std::move(resolved).error();
    output_paths = std::move(resolved).value();
  }
  const uint64_t output_cap = static_cast<uint64_t>(options_.max_output_size);

  ProcessingSink sink(prepared->secret_values, output_cap, on_event,
                      on_event == nullptr || control.keep_streamed_output);
  Result<RunOutcome> outcome = make_error("the run did not start");
  std::map<std::string, std::string> files;
  std::string container_id;
  if (options_.mode == EngineMode::kPersistent) {
    // One sandbox for every execution, started by the first; executions wait for each other.
    std::lock_guard lock(session_mutex_);
    const std::string runtime(prepared->runtime->name);
    if (session_ && session_runtime_ != runtime) {
      const std::string message = fmt::format(
          "Cannot switch runtime from \"{}\" to \"{}\". Each persistent container supports a "
          "single runtime. Create a new Isol8 instance for a different runtime.",
          session_runtime_, runtime);
      sink.send(StreamEvent::Type::kError, message);
      return make_error(message);
    }
    if (!session_) {
      auto opened = backend_->open_session(prepared->spec);
      if (!opened) {
        sink.send(StreamEvent::Type::kError, opened.error().message);
        return std::move(opened).error();
      }
      session_ = std::move(opened).value();
      session_runtime_ = runtime;
      spdlog::debug("{}: session {} started for {}", backend_->name(), session_->id(), runtime);
    }
    // Debian packages an earlier execution of the session installed stay reachable.
    if (runtime == "bash" && !request.install_packages.empty()) session_has_debs_ = true;
    if (session_has_debs_) add_debian_package_environment(prepared->spec.env);
    outcome = session_->run(prepared->spec, sink, control);
    container_id = session_->id();
    if (outcome)
      files = read_output_files(*session_, request.output_paths, output_paths, output_cap);
  } else if (!output_paths.empty() || options_.persist) {
    // The files are read before the sandbox goes, and a persisted sandbox stays after the run:
    // a sandbox of its own, for this execution only.
    auto opened = backend_->open_session(prepared->spec);
    if (!opened) return std::move(opened).error();
    outcome = (*opened)->run(prepared->spec, sink, control);
    if (outcome)
      files = read_output_files(**opened, request.output_paths, output_paths, output_cap);
    if (options_.persist) {
      auto how = (*opened)->keep(options_.persist_lifetime);
      if (!how) return std::move(how).error();
      container_id = (*opened)->id();
      spdlog::info("Sandbox kept for inspection: {}", *how);
    }
  } else {
    outcome = backend_->run(prepared->spec, sink, control);
  }
  trace::mark("backend run returned");
  if (!outcome) {
    sink.send(StreamEvent::Type::kError, outcome.error().message);
    return std::move(outcome).error();
  }
  sink.finish_setup();
  if (outcome->setup_timed_out || outcome->setup_failed_exit) {
    const std::string message = setup_failure_message(
        prepared->spec, *outcome, trim_end(sink.setup_text(OutputStream::kStderr)));
    const int code = outcome->setup_timed_out ? 137 : *outcome->setup_failed_exit;
    sink.send(StreamEvent::Type::kError,
              outcome->setup_timed_out && !outcome->setup_failed_command
                  ? std::string(kSetupTimedOutEvent)
                  : message,
              "setup");
    sink.send(StreamEvent::Type::kExit, std::to_string(code), "setup");
    return make_error(outcome->setup_timed_out && !outcome->setup_failed_command
                          ? std::string(kSetupTimedOutEvent)
                          : message);
  }
  sink.finish();

  ExecutionResult result;
  result.execution_id = make_uuid_v4();
  result.runtime = std::string(prepared->runtime->name);
  result.exit_code = outcome->exit_code;
  result.term_signal = outcome->term_signal;
  result.duration_ms = outcome->duration.count();
  result.truncated = sink.truncated();
  result.oom_killed = outcome->oom_killed;
  result.pids_limit_hit = outcome->pids_limit_hit;
  result.resource_usage = outcome->usage;
  result.limits = outcome->limits;
  result.network_logs = std::move(outcome->network_logs);
  result.files = std::move(files);
  result.container_id = std::move(container_id);
  result.status = outcome->timed_out        ? RunStatus::kTimeout
                  : outcome->oom_killed     ? RunStatus::kOom
                  : outcome->cancelled      ? RunStatus::kKilled
                  : outcome->exit_code == 0 ? RunStatus::kOk
                                            : RunStatus::kError;
  result.stdout_data = trim_end(std::move(sink.text(OutputStream::kStdout)));
  result.stderr_data = trim_end(std::move(sink.text(OutputStream::kStderr)));
  if (outcome->oom_killed) {
    const std::string line =
        fmt::format("--- OUT OF MEMORY (limit {}) ---", format_size(options_.memory_limit_bytes));
    result.stderr_data += (result.stderr_data.empty() ? "" : "\n") + line;
    sink.send(StreamEvent::Type::kStderr, "\n" + line + "\n");
  }
  if (outcome->timed_out) {
    result.stderr_data += std::string(result.stderr_data.empty() ? "" : "\n") + kTimedOutMarker;
    sink.send(StreamEvent::Type::kError, kTimedOutEvent);
  }
  sink.send(StreamEvent::Type::kExit, std::to_string(result.exit_code));
  result.timestamp = iso_timestamp_now();
  if (audit_) {
    write_audit_record(*audit_, request, result, started_at, prepared->secret_values);
    if (!options_.log_network) result.network_logs.clear();
  }
  return result;
}

}  // namespace isol8
