#pragma once
// An Executor that runs on an isol8 server (`isol8 serve`, or any server speaking upstream's wire
// format), as upstream's RemoteIsol8: POST /execute, streaming over WebSocket with a fallback to
// server-sent events, /file for put_file/get_file, /sessions. Unlike upstream, the session id is
// sent on the WebSocket too, and Ctrl-C (RunControl::cancel_fd) reaches the program as a signal
// message.

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "client/server_connection.h"
#include "isol8/executor.h"

namespace isol8::client {

struct SessionInfo {
  std::string id;
  bool active = false;
  std::string last_accessed_at;  // ISO 8601
};

struct RemoteSettings {
  ServerUrl url;
  std::string api_key;
  std::optional<std::string> session_id;
  // stop() deletes the session (a session this client made up for one run); a session named by
  // the user outlives the run.
  bool owns_session = false;
};

class RemoteEngine final : public Executor {
 public:
  // Asks GET /health first: "Remote server health check failed: <status>" (or why the server
  // could not be reached). `options` are sent with every execution.
  static Result<std::unique_ptr<RemoteEngine>> connect(RemoteSettings settings, Options options);

  Result<ExecutionResult> execute(const ExecutionRequest& request,
                                  const RunControl& control = {}) override;
  Result<ExecutionResult> execute_stream(const ExecutionRequest& request,
                                         const StreamCallback& on_event,
                                         const RunControl& control = {}) override;
  Result<void> put_file(const std::string& path, std::string_view content) override;
  Result<std::string> get_file(const std::string& path) override;
  void stop() override;

  Result<std::vector<SessionInfo>> list_sessions();
  Result<void> delete_session(const std::string& id);

 private:
  RemoteEngine(RemoteSettings settings, Options options);
  Result<std::string> envelope(const ExecutionRequest& request, bool with_type) const;
  CallLimits limits_for(const ExecutionRequest& request) const;
  Result<ExecutionResult> stream_over_websocket(const std::string& message,
                                                const StreamCallback& on_event,
                                                const RunControl& control, bool& refused);
  Result<ExecutionResult> stream_over_sse(const std::string& body, const StreamCallback& on_event,
                                          const RunControl& control);

  RemoteSettings settings_;
  Options options_;
  ServerConnection connection_;
  bool websocket_unavailable_ = false;  // the first WebSocket attempt failed: SSE from then on
  bool websocket_worked_ = false;
};

// The body's "error", else the reply's reason phrase (what upstream's client reports).
std::string server_error(const HttpReply& reply);

// Percent-encodes a query value as URLSearchParams does.
std::string encode_query_value(std::string_view value);

}  // namespace isol8::client
