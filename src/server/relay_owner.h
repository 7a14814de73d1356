#pragma once
// The connection to a session's owner node, shared by the HTTP and WebSocket relays
// (session_relay.h).

// Boost 1.74's asio/awaitable.hpp uses std::exchange without including <utility>.
#include <utility>

#include <boost/asio/awaitable.hpp>
#include <boost/beast/core/tcp_stream.hpp>

#include "client/server_url.h"
#include "isol8/result.h"
#include "server/session_relay.h"

namespace isol8::server {

// Parses `owner_base_url` (http only: nodes talk plain HTTP on their private network) and
// connects `owner` to it within the connect timeout. The error says which owner and why.
boost::asio::awaitable<Result<client::ServerUrl>> connect_owner(boost::beast::tcp_stream& owner,
                                                                const std::string& owner_base_url,
                                                                const RelayLimits& limits);

// The outcome of a relay that wrote nothing to the client.
RelayOutcome not_reached(Error error);

// "<what> session owner <owner>: <why>", the error of a failure on the way to the owner.
Error owner_error(std::string_view what, const std::string& owner_base_url, std::string_view why);

}  // namespace isol8::server
