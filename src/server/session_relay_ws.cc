// The WebSocket relay (session_relay.h): a WebSocket of its own to the owner's /execute/ws, the
// owner's messages passed to the client in this coroutine and the client's to the owner in a
// second one, until one side closes. The side that ends first decides how the other is closed:
// the owner's close code and reason go to the client; a client that closes or vanishes closes
// the owner side, whose server then stops the program.

#include "server/session_relay.h"

#include <boost/asio/buffer.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/websocket/error.hpp>

#include "server/awaitable.h"
#include "server/relay_owner.h"

namespace isol8::server {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using boost::system::error_code;

// The close the owner side gets when the client's side ended: the client's own close, or 1001
// (going away) when the client vanished without one.
websocket::close_reason closing_for_owner(const WebSocket& client) {
  if (client.reason().code != websocket::close_code::none) return client.reason();
  return websocket::close_reason(websocket::close_code::going_away);
}

// Passes the client's messages to the owner until the client's side ends, then closes the owner
// side unless it is closed already. A named object in the relay's frame, not a temporary: its
// coroutine refers to it, and the relay waits for it to end before its frame goes.
struct ClientToOwner {
  WebSocket& client;
  WebSocket& owner;
  bool& owner_closing;  // set by whichever direction closes the owner side first

  asio::awaitable<void> operator()() {
    beast::flat_buffer buffer;
    error_code ec;
    for (;;) {
      co_await client.async_read(buffer, with(ec));
      if (ec) break;
      owner.text(client.got_text());
      co_await owner.async_write(buffer.data(), with(ec));
      buffer.consume(buffer.size());
      if (ec) co_return;  // the owner broke off: the other direction sees it and ends the client
    }
    if (!owner_closing && owner.is_open()) {
      owner_closing = true;
      co_await owner.async_close(closing_for_owner(client), with(ec));
    }
  }
};

websocket::stream_base::timeout owner_timeouts(const RelayLimits& limits) {
  websocket::stream_base::timeout t{};
  // Opening and closing handshakes; an execution may be silent as long as its time limit allows.
  t.handshake_timeout = std::chrono::milliseconds(limits.connect_timeout_ms);
  t.idle_timeout = websocket::stream_base::none();
  t.keep_alive_pings = false;
  return t;
}

}  // namespace

asio::awaitable<RelayOutcome> relay_websocket(WebSocket& client, const std::string& authorization,
                                              const std::string& first_message,
                                              const std::string& owner_base_url,
                                              const std::string& this_node,
                                              const RelayLimits& limits) {
  WebSocket owner(client.get_executor());
  auto url = co_await connect_owner(beast::get_lowest_layer(owner), owner_base_url, limits);
  if (!url) co_return not_reached(std::move(url).error());
  owner.set_option(owner_timeouts(limits));
  owner.set_option(websocket::stream_base::decorator(
      [authorization, this_node](websocket::request_type& upgrade) {
        if (!authorization.empty()) upgrade.set(beast::http::field::authorization, authorization);
        upgrade.set(kRelayedByHeader, this_node);
      }));
  owner.read_message_max(limits.max_ws_message_bytes);
  error_code ec;
  websocket::response_type answer;
  co_await owner.async_handshake(answer, url->host_header(), url->base_path + "/execute/ws",
                                 with(ec));
  if (ec) {
    const std::string why =
        answer.result_int() != 0 && answer.result_int() != 101
            ? "HTTP " + std::to_string(answer.result_int()) + " " + answer.body()
            : ec.message();
    co_return not_reached(owner_error("No WebSocket from", owner_base_url, why));
  }
  owner.text(true);
  co_await owner.async_write(asio::buffer(first_message), with(ec));
  if (ec) co_return not_reached(owner_error("Cannot send to", owner_base_url, ec.message()));

  bool owner_closing = false;
  bool client_to_owner_done = false;
  asio::steady_timer wake(client.get_executor());
  wake.expires_at(asio::steady_timer::time_point::max());
  ClientToOwner client_to_owner{client, owner, owner_closing};
  asio::co_spawn(client.get_executor(), client_to_owner(), [&](std::exception_ptr) {
    client_to_owner_done = true;
    wake.cancel();
  });

  RelayOutcome outcome;
  beast::flat_buffer buffer;
  bool client_broken = false;
  for (;;) {
    co_await owner.async_read(buffer, with(ec));
    if (ec) break;
    client.text(owner.got_text());
    co_await client.async_write(buffer.data(), with(ec));
    buffer.consume(buffer.size());
    if (ec) {
      client_broken = true;
      break;
    }
  }
  if (client_broken) {
    if (!owner_closing && owner.is_open()) {
      owner_closing = true;
      co_await owner.async_close(websocket::close_reason(websocket::close_code::going_away),
                                 with(ec));
    }
  } else if (client.is_open()) {
    // The owner side ended first: its close goes to the client as it is; an owner that broke off
    // without one is an error on the server's side (1011).
    owner_closing = true;
    websocket::close_reason reason = owner.reason();
    if (reason.code == websocket::close_code::none) {
      reason = websocket::close_reason(websocket::close_code::internal_error);
      reason.reason = "Session owner connection lost";
    }
    co_await client.async_close(reason, with(ec));
    outcome.status = reason.code;
  } else {
    outcome.status = client.reason().code;  // the client closed first (0 when it vanished)
  }
  // The other direction refers to this frame: wait until it has ended.
  while (!client_to_owner_done) co_await wake.async_wait(with(ec));
  co_return outcome;
}

}  // namespace isol8::server
