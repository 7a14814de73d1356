#pragma once
// One client connection on the network thread: HTTP/1.1 requests read with Beast under the wire
// limits (header 431, URL 414, body 413, slow or idle clients timed out), authenticated, then
// routed; an SSE request streams its events; a WebSocket upgrade hands the connection over.

#include <utility>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/tcp_stream.hpp>

#include "server/auth.h"
#include "server/http_types.h"
#include "server/server_state.h"

namespace isol8::server {

boost::asio::awaitable<void> serve_connection(ServerState& state,
                                              boost::asio::ip::tcp::socket socket);

// POST /execute/stream: returns the status sent and whether the connection may be kept.
boost::asio::awaitable<std::pair<int, bool>> serve_sse(ServerState& state,
                                                       boost::beast::tcp_stream& stream,
                                                       const Request& request,
                                                       const Principal& who);

// GET /execute/ws after the upgrade request passed authentication; owns the connection.
boost::asio::awaitable<void> serve_websocket(ServerState& state, boost::beast::tcp_stream stream,
                                             Request request, Principal who);

}  // namespace isol8::server
