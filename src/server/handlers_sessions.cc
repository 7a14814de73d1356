// Sessions and their files: POST/GET /file, GET /sessions, DELETE /session/:id, POST /cleanup.
// A DB key sees only its tenant's sessions (another tenant's id is "Session not found");
// /cleanup needs the master key and never removes images.

// Boost 1.74's asio/awaitable.hpp uses std::exchange without including <utility>.
#include <utility>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "core/base64.h"
#include "server/blocking_call.h"
#include "server/envelope.h"
#include "server/handlers.h"
#include "server/key_crypto.h"
#include "server/session_engine.h"

namespace isol8::server {

namespace {

Result<std::string> string_field(const nlohmann::json& body, const char* key) {
  const auto it = body.find(key);
  if (it == body.end() || it->is_null()) return http_error(400, fmt::format("{} is required", key));
  if (!it->is_string()) return http_error(400, fmt::format("{} must be a string", key));
  return it->get<std::string>();
}

Response content_response(const std::string& content) {
  return json_response(200, {{"content", base64_encode(content)}});
}

Response cleanup_response(int removed, const std::vector<std::string>& errors) {
  const auto failed = static_cast<int>(errors.size());
  return json_response(
      200, {{"ok", true},
            {"sessions", {{"removed", removed}, {"failed", failed}, {"errors", errors}}},
            {"containers", {{"removed", 0}, {"failed", 0}, {"errors", nlohmann::json::array()}}}});
}

Response master_required() {
  return json_response(403, {{"error", "Master key required for this operation"}});
}

}  // namespace

awaitable<Response> handle_put_file(ServerState& state, const Request& request,
                                    const Principal& who) {
  auto body = parse_json_body(request.body());
  if (!body) co_return error_response(body.error());
  if (!body->is_object())
    co_return error_response(http_error(400, "The body must be a JSON object"));
  auto id = string_field(*body, "sessionId");
  if (!id) co_return error_response(id.error());
  auto path = string_field(*body, "path");
  if (!path) co_return error_response(path.error());
  auto content = string_field(*body, "content");
  if (!content) co_return error_response(content.error());
  auto bytes = base64_decode(*content);
  if (!bytes) co_return error_response(http_error(400, "content must be base64"));
  auto engine = state.sessions.find(*id, who.tenant_id);
  if (!engine) co_return error_response(engine.error());
  // Named, and passed by reference: GCC 12 destroys a temporary argument of a co_awaited
  // coroutine call twice.
  const std::function<Result<bool>()> put = [engine = *engine, path = *path,
                                             bytes = std::move(*bytes)]() -> Result<bool> {
    ISOL8_TRY(put_session_file(*engine, path, bytes));
    return true;
  };
  auto written = co_await run_blocking<bool>(state.ioc, state.maintenance, put);
  if (!written) co_return error_response(written.error());
  co_return ok_response();
}

awaitable<Response> handle_get_file(ServerState& state, const Request& request,
                                    const Principal& who) {
  const auto id = query_parameter(request, "sessionId");
  const auto path = query_parameter(request, "path");
  if (!id || !path || id->empty() || path->empty()) {
    co_return error_response(400, "Missing sessionId or path");
  }
  auto engine = state.sessions.find(*id, who.tenant_id);
  if (!engine) co_return error_response(engine.error());
  const std::function<Result<std::string>()> get = [engine = *engine, path = *path] {
    return get_session_file(*engine, path);
  };  // named, as above
  auto content = co_await run_blocking<std::string>(state.ioc, state.maintenance, get);
  if (!content) co_return error_response(content.error());
  co_return content_response(*content);
}

namespace {

// A cluster node lists the sessions of every node, from the shared registry; "node" tells where
// each is, "available" whether that node can answer for it now.
Response cluster_session_list(ServerState& state, const Principal& who) {
  auto views = state.cluster->list(who.tenant_id, who.master);
  if (!views) {
    return error_response(503,
                          fmt::format("Cluster registry unavailable: {}", views.error().message));
  }
  nlohmann::json list = nlohmann::json::array();
  for (const auto& s : *views) {
    list.push_back({{"id", s.id},
                    {"isActive", s.active},
                    {"lastAccessedAt", s.last_used},
                    {"node", s.node_id},
                    {"available", s.available}});
  }
  return json_response(200, {{"sessions", std::move(list)}});
}

// Drops the registry rows of sessions this node removed; a failure only delays that to the
// prune loop's tidy-up (the row names no session here then).
void forget_in_cluster(ServerState& state, const std::vector<std::string>& ids) {
  if (!state.cluster) return;
  for (const auto& id : ids) {
    if (auto forgot = state.cluster->forget(id); !forgot) {
      spdlog::warn("session {}: {}", id, forgot.error().message);
    }
  }
}

}  // namespace

Response handle_list_sessions(ServerState& state, const Principal& who) {
  if (state.cluster) return cluster_session_list(state, who);
  nlohmann::json list = nlohmann::json::array();
  for (const auto& s : state.sessions.list(who.tenant_id, who.master)) {
    list.push_back(
        {{"id", s.id}, {"isActive", s.active}, {"lastAccessedAt", iso_time(s.last_used)}});
  }
  return json_response(200, {{"sessions", std::move(list)}});
}

awaitable<std::pair<int, std::vector<std::string>>> stop_engines(
    ServerState& state, std::vector<std::pair<std::string, std::shared_ptr<Engine>>> engines) {
  int stopped = 0;
  std::vector<std::string> errors;
  for (auto& entry : engines) {
    if (!entry.second) continue;
    std::function<Result<bool>()> call = [engine = std::move(entry.second)]() -> Result<bool> {
      stop_session_engine(*engine);
      return true;
    };
    auto done = co_await run_blocking<bool>(state.ioc, state.maintenance, call);
    if (done) {
      ++stopped;
    } else {
      errors.push_back(fmt::format("{}: {}", entry.first, done.error().message));
    }
  }
  co_return std::pair{stopped, errors};
}

awaitable<Response> handle_delete_session(ServerState& state, const std::string& id,
                                          const Principal& who) {
  auto engine = state.sessions.remove(id, who.tenant_id, who.master);
  // Idempotent, as upstream: an unknown id (or another tenant's) is {"ok": true} too.
  if (engine) {
    std::vector<std::pair<std::string, std::shared_ptr<Engine>>> one;
    one.emplace_back(id, std::move(engine));
    co_await stop_engines(state, std::move(one));
  }
  // Also when no sandbox was here: a claim whose session failed to start.
  const std::vector<std::string> forgotten{id};
  forget_in_cluster(state, forgotten);
  co_return ok_response();
}

awaitable<Response> handle_cleanup(ServerState& state, const Principal& who) {
  if (!who.master) co_return master_required();
  auto sessions = state.sessions.take_all();
  std::vector<std::string> ids;
  for (const auto& s : sessions) ids.push_back(s.first);
  auto [removed, errors] = co_await stop_engines(state, std::move(sessions));
  forget_in_cluster(state, ids);
  // The server removes only what it made (its sessions' sandboxes); images are never touched.
  co_return cleanup_response(removed, errors);
}

Response handle_metrics(ServerState& state, const Principal& who) {
  if (!who.master) return master_required();
  Gauges g;
  g.in_flight = state.executor.running();
  g.queued = state.executor.queued();
  g.sessions = state.sessions.size();
  g.workers = state.executor.workers();
  g.connections = state.connections;
  Response r = text_response(200, state.metrics.render(g));
  r.set(boost::beast::http::field::content_type, "text/plain; version=0.0.4; charset=utf-8");
  return r;
}

}  // namespace isol8::server
