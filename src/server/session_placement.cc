#include "server/session_placement.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "server/cluster_registry.h"

namespace isol8::server {

namespace http = boost::beast::http;

namespace {

constexpr std::string_view kSessionPath = "/session/";

Placement answer(int status, std::string message) {
  Placement p;
  p.action = Placement::Action::kAnswer;
  p.answer = error_response(status, message);
  p.message = std::move(message);
  return p;
}

// DELETE's answer for a session it could clear: upstream's {"ok": true}.
Placement answer_ok() {
  Placement p;
  p.action = Placement::Action::kAnswer;
  p.answer = ok_response();
  return p;
}

}  // namespace

void name_node(const ServerState& state, http::fields& fields) {
  if (state.cluster) fields.set(kNodeHeader, state.cluster->node_id());
}

std::optional<std::string> session_named_by(const Request& request) {
  const std::string path = request_path(request);
  const http::verb method = request.method();
  if (method == http::verb::post &&
      (path == "/execute" || path == "/execute/stream" || path == "/file")) {
    // Parsed again by the handler: only cluster nodes pay this, and only for a body that
    // names a session is anything but a lookup done.
    auto body = nlohmann::json::parse(request.body(), nullptr, /*allow_exceptions=*/false);
    if (!body.is_object()) return std::nullopt;
    const auto it = body.find("sessionId");
    if (it == body.end() || !it->is_string()) return std::nullopt;
    return it->get<std::string>();
  }
  if (method == http::verb::get && path == "/file") {
    auto id = query_parameter(request, "sessionId");
    if (id && id->empty()) return std::nullopt;
    return id;
  }
  if (method == http::verb::delete_ && path.size() > kSessionPath.size() &&
      path.compare(0, kSessionPath.size(), kSessionPath) == 0) {
    return path.substr(kSessionPath.size());
  }
  return std::nullopt;
}

Placement place_session(ServerState& state, const std::string& id, const Principal& who,
                        bool creates, bool deleting, bool relayed) {
  ClusterRegistry& cluster = *state.cluster;
  auto place = cluster.locate(id, who.tenant_id, deleting && who.master, creates);
  if (!place) {
    spdlog::warn("session {}: {}", id, place.error().message);
    return answer(503, fmt::format("Cluster registry unavailable: {}", place.error().message));
  }
  using Kind = SessionPlace::Kind;
  switch (place->kind) {
    case Kind::kUnknown:
    case Kind::kHere:
      return Placement{};
    case Kind::kForeign:  // as a single server: another tenant's id is not found
      return deleting ? answer_ok() : answer(404, "Session not found");
    case Kind::kElsewhere:
      if (relayed) {
        // Two nodes disagree for a moment (a restart in between): refuse instead of looping.
        return answer(
            503, fmt::format("Session {} is on node {}; a relayed request is not relayed again", id,
                             place->node_id));
      }
      {
        Placement relay;
        relay.action = Placement::Action::kRelay;
        relay.owner_url = place->node_url;
        relay.owner_id = place->node_id;
        relay.session_id = id;
        return relay;
      }
    case Kind::kDown:
    case Kind::kLost:
      break;
  }
  if (deleting) {
    // Its sandbox is gone with its node (or will be, when a stopped node's sessions were
    // stopped at its exit): forgetting the record is all that is left to do.
    if (auto forgot = cluster.forget_elsewhere(id, place->node_id); !forgot) {
      return answer(503, fmt::format("Cluster registry unavailable: {}", forgot.error().message));
    }
    return answer_ok();
  }
  if (place->kind == Kind::kDown) {
    return answer(
        503, fmt::format("Session {} is unavailable: its node {} is down", id, place->node_id));
  }
  return answer(410, fmt::format("Session {} was lost: its node {} restarted since it was created "
                                 "(delete it to use the id again)",
                                 id, place->node_id));
}

Placement place_request(ServerState& state, const Request& request, const Principal& who) {
  auto id = session_named_by(request);
  if (!id) return Placement{};
  const bool creates = request.method() == http::verb::post && request_path(request) != "/file";
  const bool deleting = request.method() == http::verb::delete_;
  const bool relayed = request.find(kRelayedByHeader) != request.end();
  return place_session(state, *id, who, creates, deleting, relayed);
}

RelayLimits relay_limits(const ServerState& state) {
  RelayLimits limits;
  limits.write_timeout_ms = state.settings.wire.write_timeout_ms;
  limits.max_header_bytes = state.settings.wire.max_header_bytes;
  limits.max_ws_message_bytes = state.settings.wire.max_ws_message_bytes;
  return limits;
}

std::string unreachable_owner_message(const Placement& placed, const Error& why) {
  return fmt::format("Session {} is unavailable: its node {} is not reachable ({})",
                     placed.session_id, placed.owner_id, why.message);
}

}  // namespace isol8::server
