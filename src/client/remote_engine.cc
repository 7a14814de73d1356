#include "client/remote_engine.h"

#include <cerrno>

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

#include "client/wire_codec.h"
#include "common/text.h"
#include "core/base64.h"

namespace isol8::client {
namespace {

using nlohmann::json;

// How long a reply may take beyond the execution's own time limit (setup, installs, teardown).
constexpr std::chrono::milliseconds kReplyMargin{120'000};
constexpr std::chrono::milliseconds kQuickCall{30'000};
// A WebSocket pings after half of this without traffic and gives up after all of it.
constexpr std::chrono::milliseconds kWebSocketIdle{30'000};

// The start of the output limiter's marker (core/output_limiter.cc).
constexpr std::string_view kTruncationMarkerStart = "\n\n--- OUTPUT TRUNCATED (";

Error unreachable(const ServerUrl& url, const Error& error) {
  return Error{error.code, fmt::format("Cannot reach the isol8 server at {}: {}", url.canonical(),
                                       error.message)};
}

// Builds the result of a streamed execution from its events, as the local engine's
// execute_stream would have: output (when kept), exit code, timeout, and the errors that end a
// stream without a result (an engine error, a failed setup).
class StreamAssembler {
 public:
  StreamAssembler(const StreamCallback& on_event, bool keep_output)
      : on_event_(on_event), keep_(keep_output) {}

  // False when the message is not a stream event (the stream is then broken).
  Result<void> on_message(std::string_view text) {
    const json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded()) return make_error("The server sent a stream message that is not JSON");
    auto event = event_from_json(j);
    if (!event) return std::move(event).error();
    StreamEvent& e = *event;
    const bool setup = e.phase == "setup";
    // A stream carries no truncated flag: the engine's marker ends a capped stream's text.
    const bool output =
        e.type == StreamEvent::Type::kStdout || e.type == StreamEvent::Type::kStderr;
    if (output && !setup && e.data.find(kTruncationMarkerStart) != std::string::npos) {
      result_.truncated = true;
    }
    switch (e.type) {
      case StreamEvent::Type::kStdout:
        if (keep_ && !setup) result_.stdout_data += e.data;
        break;
      case StreamEvent::Type::kStderr:
        if (keep_ && !setup) result_.stderr_data += e.data;
        break;
      case StreamEvent::Type::kError:
        if (e.data == kTimedOutEvent) {
          result_.status = RunStatus::kTimeout;
        } else {
          error_ = e.data;  // an engine error (no phase) or a failed setup
        }
        break;
      case StreamEvent::Type::kExit:
        if (setup) break;  // the setup phase's own exit
        exit_code_ = std::atoi(e.data.c_str());
        break;
    }
    on_event_(e);
    return ok();
  }

  Result<ExecutionResult> finish() {
    if (error_ && !exit_code_) return make_error(*error_);
    if (!exit_code_) {
      return make_error("The server ended the stream before the execution's exit event");
    }
    result_.exit_code = *exit_code_;
    // As a local result: the streamed text, trimmed at the end.
    result_.stdout_data = trim_end(std::move(result_.stdout_data));
    result_.stderr_data = trim_end(std::move(result_.stderr_data));
    if (result_.status != RunStatus::kTimeout) {
      result_.status = result_.exit_code == 0 ? RunStatus::kOk : RunStatus::kError;
    }
    if (result_.status == RunStatus::kTimeout) {
      result_.stderr_data += std::string(result_.stderr_data.empty() ? "" : "\n") + kTimedOutMarker;
    }
    result_.resource_usage.cpu_and_memory_measured = false;
    return std::move(result_);
  }

  bool saw_exit() const { return exit_code_.has_value(); }

 private:
  const StreamCallback& on_event_;
  bool keep_;
  ExecutionResult result_;
  std::optional<int> exit_code_;
  std::optional<std::string> error_;
};

// The result of a run the caller cancelled by closing the connection (the server kills it).
ExecutionResult cancelled_result() {
  ExecutionResult result;
  result.status = RunStatus::kKilled;
  result.exit_code = 137;
  result.resource_usage.cpu_and_memory_measured = false;
  return result;
}

}  // namespace

std::string server_error(const HttpReply& reply) {
  const json j = json::parse(reply.body, nullptr, /*allow_exceptions=*/false);
  if (j.is_object() && j.contains("error") && j["error"].is_string()) {
    return j["error"].get<std::string>();
  }
  return reply.reason.empty() ? fmt::format("HTTP {}", reply.status) : reply.reason;
}

std::string encode_query_value(std::string_view value) {
  std::string out;
  for (unsigned char c : value) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '*') {
      out += static_cast<char>(c);
    } else if (c == ' ') {
      out += '+';
    } else {
      out += fmt::format("%{:02X}", c);
    }
  }
  return out;
}

RemoteEngine::RemoteEngine(RemoteSettings settings, Options options)
    : settings_(std::move(settings)),
      options_(std::move(options)),
      connection_(settings_.url, settings_.api_key) {}

Result<std::unique_ptr<RemoteEngine>> RemoteEngine::connect(RemoteSettings settings,
                                                            Options options) {
  std::unique_ptr<RemoteEngine> engine(new RemoteEngine(std::move(settings), std::move(options)));
  CallLimits limits;
  limits.idle = kQuickCall;
  limits.max_body = 1 << 20;
  auto reply = engine->connection_.request("GET", "/health", "", limits);
  if (!reply) return unreachable(engine->settings_.url, reply.error());
  if (reply->status < 200 || reply->status > 299) {
    return make_error(fmt::format("Remote server health check failed: {}", reply->status));
  }
  return engine;
}

Result<std::string> RemoteEngine::envelope(const ExecutionRequest& request, bool with_type) const {
  auto req = request_to_json(request);
  if (!req) return std::move(req).error();
  json j;
  if (with_type) j["type"] = "execute";
  j["request"] = std::move(req).value();
  j["options"] = options_to_json(options_);
  if (settings_.session_id) j["sessionId"] = *settings_.session_id;
  return j.dump();
}

CallLimits RemoteEngine::limits_for(const ExecutionRequest& request) const {
  CallLimits limits;
  limits.idle =
      std::chrono::milliseconds(request.timeout_ms.value_or(options_.timeout_ms)) + kReplyMargin;
  return limits;
}

Result<ExecutionResult> RemoteEngine::execute(const ExecutionRequest& request,
                                              const RunControl& control) {
  auto body = envelope(request, false);
  if (!body) return std::move(body).error();
  auto reply =
      connection_.request("POST", "/execute", *body, limits_for(request), control.cancel_fd);
  if (!reply && reply.error().code == ECANCELED) return cancelled_result();
  if (!reply) return unreachable(settings_.url, reply.error());
  if (reply->status < 200 || reply->status > 299) {
    return make_error("Execution failed: " + server_error(*reply));
  }
  json j = json::parse(reply->body, nullptr, /*allow_exceptions=*/false);
  // The body's text goes before the result is built: at most two copies of a capped output
  // (the text while it is parsed, then the parsed strings, moved into the result).
  std::string().swap(reply->body);
  if (j.is_discarded()) return make_error("Execution failed: the server's reply is not JSON");
  auto result = result_from_json(std::move(j));
  if (!result) return std::move(result).error().context("Execution failed");
  return result;
}

Result<ExecutionResult> RemoteEngine::stream_over_websocket(const std::string& message,
                                                            const StreamCallback& on_event,
                                                            const RunControl& control,
                                                            bool& refused) {
  StreamAssembler assembler(on_event, control.keep_streamed_output);
  std::optional<Error> broken;
  auto on_message = [&](std::string_view text) {
    auto handled = assembler.on_message(text);
    if (!handled) broken = handled.error();
    return handled.has_value();
  };
  // Ctrl-C: the server signals the program (ours does; upstream's ignores the message).
  auto on_cancel = [] { return json{{"type", "signal"}, {"signal", "SIGINT"}}.dump(); };
  CallLimits limits;
  limits.connect = std::chrono::milliseconds(10'000);
  limits.idle = kWebSocketIdle;
  // The session id in the URL too: a load balancer cannot read the first message, but it can
  // route on the query (docs/cluster.md); servers ignore it.
  const std::string target =
      settings_.session_id ? "/execute/ws?sessionId=" + encode_query_value(*settings_.session_id)
                           : std::string("/execute/ws");
  auto done =
      connection_.websocket(target, message, on_message, control.cancel_fd, on_cancel, limits);
  if (!done) {
    refused = !websocket_worked_;
    return unreachable(settings_.url, done.error());
  }
  websocket_worked_ = true;
  if (broken) return *broken;
  return assembler.finish();
}

Result<ExecutionResult> RemoteEngine::stream_over_sse(const std::string& body,
                                                      const StreamCallback& on_event,
                                                      const RunControl& control) {
  StreamAssembler assembler(on_event, control.keep_streamed_output);
  std::optional<Error> broken;
  auto on_data = [&](std::string_view text) {
    auto handled = assembler.on_message(text);
    if (!handled) broken = handled.error();
    return handled.has_value();
  };
  ExecutionRequest probe;
  auto reply = connection_.post_event_stream("/execute/stream", body, on_data, control.cancel_fd,
                                             limits_for(probe));
  if (!reply && reply.error().code == ECANCELED) return cancelled_result();
  if (!reply) return unreachable(settings_.url, reply.error());
  if (reply->status < 200 || reply->status > 299) {
    return make_error("Stream failed: " + server_error(*reply));
  }
  if (broken) return *broken;
  return assembler.finish();
}

Result<ExecutionResult> RemoteEngine::execute_stream(const ExecutionRequest& request,
                                                     const StreamCallback& on_event,
                                                     const RunControl& control) {
  if (!websocket_unavailable_) {
    auto message = envelope(request, true);
    if (!message) return std::move(message).error();
    bool refused = false;
    auto result = stream_over_websocket(*message, on_event, control, refused);
    if (result || !refused) return result;
    // As upstream: the first failure means no WebSocket here; server-sent events from now on.
    spdlog::debug("WebSocket streaming unavailable ({}); using server-sent events",
                  result.error().message);
    websocket_unavailable_ = true;
  }
  auto body = envelope(request, false);
  if (!body) return std::move(body).error();
  return stream_over_sse(*body, on_event, control);
}

Result<void> RemoteEngine::put_file(const std::string& path, std::string_view content) {
  if (!settings_.session_id) {
    return make_error("File operations require a sessionId (persistent mode)");
  }
  const json body = {
      {"sessionId", *settings_.session_id}, {"path", path}, {"content", base64_encode(content)}};
  CallLimits limits;
  limits.idle = kQuickCall;
  auto reply = connection_.request("POST", "/file", body.dump(), limits);
  if (!reply) return unreachable(settings_.url, reply.error());
  if (reply->status < 200 || reply->status > 299) {
    return make_error("File upload failed: " + server_error(*reply));
  }
  return ok();
}

Result<std::string> RemoteEngine::get_file(const std::string& path) {
  if (!settings_.session_id) {
    return make_error("File operations require a sessionId (persistent mode)");
  }
  CallLimits limits;
  limits.idle = kQuickCall;
  auto reply = connection_.request("GET",
                                   "/file?sessionId=" + encode_query_value(*settings_.session_id) +
                                       "&path=" + encode_query_value(path),
                                   "", limits);
  if (!reply) return unreachable(settings_.url, reply.error());
  if (reply->status < 200 || reply->status > 299) {
    return make_error("File download failed: " + server_error(*reply));
  }
  const json j = json::parse(reply->body, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object() || !j.contains("content") || !j["content"].is_string()) {
    return make_error("File download failed: the server's reply has no \"content\"");
  }
  auto bytes = base64_decode(j["content"].get<std::string>());
  if (!bytes) return make_error("File download failed: the content is not base64");
  return std::move(*bytes);
}

void RemoteEngine::stop() {
  if (!settings_.session_id || !settings_.owns_session) return;
  if (auto deleted = delete_session(*settings_.session_id); !deleted) {
    spdlog::warn("{}", deleted.error().message);
  }
  settings_.owns_session = false;
}

Result<std::vector<SessionInfo>> RemoteEngine::list_sessions() {
  CallLimits limits;
  limits.idle = kQuickCall;
  auto reply = connection_.request("GET", "/sessions", "", limits);
  if (!reply) return unreachable(settings_.url, reply.error());
  if (reply->status < 200 || reply->status > 299) {
    return make_error("Failed to list sessions: " + server_error(*reply));
  }
  const json j = json::parse(reply->body, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object() || !j.contains("sessions") || !j["sessions"].is_array()) {
    return make_error("Failed to list sessions: the server's reply has no \"sessions\" list");
  }
  std::vector<SessionInfo> sessions;
  for (const auto& s : j["sessions"]) {
    if (!s.is_object() || !s.contains("id") || !s["id"].is_string()) continue;
    sessions.push_back(SessionInfo{s["id"].get<std::string>(), s.value("isActive", false),
                                   s.value("lastAccessedAt", "")});
  }
  return sessions;
}

Result<void> RemoteEngine::delete_session(const std::string& id) {
  CallLimits limits;
  limits.idle = kQuickCall;
  auto reply = connection_.request("DELETE", "/session/" + encode_query_value(id), "", limits);
  if (!reply) return unreachable(settings_.url, reply.error());
  if (reply->status < 200 || reply->status > 299) {
    return make_error("Failed to delete session: " + server_error(*reply));
  }
  return ok();
}

}  // namespace isol8::client
