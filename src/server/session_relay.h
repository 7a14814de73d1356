#pragma once
// Relaying a session's request to the node that owns the session. Behind HAProxy a session lives
// on one `isol8 serve` node and HAProxy routes by the session id; what it cannot route (a
// WebSocket whose first message names the session, a session id beyond the buffered body)
// reaches another node, which passes the request on to the owner (its base URL from the session
// registry) and the owner's answer back, as it arrives.
//
// The relayed request carries `X-Isol8-Relayed-By: <this node>`: the owner serves it itself and
// never relays it again (a stale registry then gives a 404 instead of a loop).
//
// Until the first byte goes to the client a failure is the caller's to answer (503, an error
// event), so the outcome says "not reached" and nothing was written; after it, a broken owner
// only ends the client's response or WebSocket.

// Boost 1.74's asio/awaitable.hpp uses std::exchange without including <utility>.
#include <utility>

#include <cstdint>
#include <optional>
#include <string>

#include <boost/asio/awaitable.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/websocket/stream.hpp>

#include "isol8/result.h"
#include "server/http_types.h"

namespace isol8::server {

// The header a relayed request carries, naming the node that relayed it.
inline constexpr const char* kRelayedByHeader = "X-Isol8-Relayed-By";

struct RelayLimits {
  // Connecting to the owner, and the owner WebSocket's opening and closing handshakes.
  int64_t connect_timeout_ms = 5000;
  // One HTTP write to the owner or to the client. (Waiting for the owner has no deadline: an
  // execution takes as long as its own time limit allows.)
  int64_t write_timeout_ms = 30000;
  uint32_t max_header_bytes = 16 * 1024;        // the owner's response header
  uint64_t max_ws_message_bytes = 16ull << 20;  // one message from the owner
};

struct RelayOutcome {
  // Set when the owner was not reached or failed before anything was written to the client: the
  // client got nothing and the caller answers it.
  std::optional<Error> not_reached;
  // HTTP: the status sent to the client. WebSocket: the close code that ended the client's
  // WebSocket: the owner's, passed on, or the client's own when it closed first (0 when it
  // vanished without one).
  int status = 0;
  // HTTP: whether the client's connection may serve another request. WebSocket: always false.
  bool keep_alive = false;

  bool reached() const { return !not_reached; }
};

// Passes `request` (read in full from `client`) to the owner at `owner_base_url` (http://host:port,
// optionally with a path prefix), then the owner's response to `client` as it arrives: a chunked
// SSE stream reaches the client event by event.
boost::asio::awaitable<RelayOutcome> relay_http(boost::beast::tcp_stream& client,
                                                const Request& request,
                                                const std::string& owner_base_url,
                                                const std::string& this_node,
                                                const RelayLimits& limits);

using WebSocket = boost::beast::websocket::stream<boost::beast::tcp_stream>;

// `client` is accepted and its first message (execute) read: opens owner/execute/ws with the
// client's `authorization`, sends `first_message`, then passes messages both ways until one side
// closes. The owner's close code and reason reach the client; a client that goes closes the owner
// side, so that the owner stops the program. The client's own timeouts (set by the caller) bound
// its close handshake. The two directions run as coroutines on the client's executor and share
// state without locks: it must be one thread's (the server's network thread).
boost::asio::awaitable<RelayOutcome> relay_websocket(
    WebSocket& client, const std::string& authorization, const std::string& first_message,
    const std::string& owner_base_url, const std::string& this_node, const RelayLimits& limits);

}  // namespace isol8::server
