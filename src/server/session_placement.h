#pragma once
// A cluster node's first look at a request that names a session (docs/cluster.md): serve it
// here, relay it to the node that holds the session, or answer at once for a session whose node
// is down (503) or restarted (410). The balancer sends most session requests to the right node
// already; this covers what it cannot see (a WebSocket's first message, an id past the buffered
// body, sessions made while their node was away).

#include <optional>
#include <string>

#include "server/auth.h"
#include "server/http_types.h"
#include "server/server_state.h"
#include "server/session_relay.h"

namespace isol8::server {

// Every reply of a cluster node names it.
inline constexpr const char* kNodeHeader = "X-Isol8-Node";

// Adds kNodeHeader to a reply of a cluster node (nothing otherwise).
void name_node(const ServerState& state, boost::beast::http::fields& fields);

struct Placement {
  enum class Action { kServeHere, kRelay, kAnswer };
  Action action = Action::kServeHere;
  std::string owner_url;  // kRelay
  std::string owner_id;   // kRelay
  std::string session_id;
  Response answer;      // kAnswer
  std::string message;  // kAnswer: the error's text (a WebSocket sends it as an error event)
};

// The session an HTTP request names: `sessionId` in the JSON body of POST /execute,
// /execute/stream and /file, the query of GET /file, the path of DELETE /session/:id.
std::optional<std::string> session_named_by(const Request& request);

// Where a request naming session `id` goes. `creates`: an execution, which makes an unknown
// session here; `deleting`: DELETE /session/:id, which also clears the record of a session that
// is down or lost; `relayed`: the request came from a peer.
Placement place_session(ServerState& state, const std::string& id, const Principal& who,
                        bool creates, bool deleting, bool relayed);

// Where an HTTP request goes (serve here when it names no session).
Placement place_request(ServerState& state, const Request& request, const Principal& who);

// The relay's limits from the server's wire limits.
RelayLimits relay_limits(const ServerState& state);

// The reply when the owner of a session could not be reached.
std::string unreachable_owner_message(const Placement& placed, const Error& why);

}  // namespace isol8::server
