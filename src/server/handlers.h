#pragma once
// The endpoints that answer with one response (everything but /execute/stream and
// /execute/ws), by group. Each runs on the network thread and awaits blocking work on the pools.

#include <utility>

#include <boost/asio/awaitable.hpp>

#include "server/auth.h"
#include "server/client_gone.h"
#include "server/http_types.h"
#include "server/server_state.h"

namespace isol8::server {

using boost::asio::awaitable;

// Dispatches by method and exact path (404 text for anything else, as Hono). `gone`, when given,
// tells when the client hangs up before the reply.
awaitable<Response> route_request(ServerState& state, const Request& request, const Principal& who,
                                  std::shared_ptr<ClientGone> gone = nullptr);

awaitable<Response> handle_execute(ServerState& state, const Request& request, const Principal& who,
                                   std::shared_ptr<ClientGone> gone);
awaitable<Response> handle_put_file(ServerState& state, const Request& request,
                                    const Principal& who);
awaitable<Response> handle_get_file(ServerState& state, const Request& request,
                                    const Principal& who);
Response handle_list_sessions(ServerState& state, const Principal& who);
awaitable<Response> handle_delete_session(ServerState& state, const std::string& id,
                                          const Principal& who);
awaitable<Response> handle_cleanup(ServerState& state, const Principal& who);
Response handle_auth(ServerState& state, const Request& request, const Principal& who);
Response handle_metrics(ServerState& state, const Principal& who);

// Stops engines off the network thread; returns how many stopped and the failures.
awaitable<std::pair<int, std::vector<std::string>>> stop_engines(
    ServerState& state, std::vector<std::pair<std::string, std::shared_ptr<Engine>>> engines);

}  // namespace isol8::server
