// The HTTP relay (session_relay.h): the request goes to the owner on a connection of its own,
// and the owner's response comes back through a buffer_body parser and serializer, as in Beast's
// http_relay example, so that each piece of the body (an SSE event) is passed on as it arrives.

#include "server/session_relay.h"

#include <array>
#include <cstdint>
#include <limits>
#include <memory>

#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/serializer.hpp>
#include <boost/beast/http/span_body.hpp>
#include <boost/beast/http/write.hpp>

#include "common/scope_exit.h"
#include "server/awaitable.h"
#include "server/client_gone.h"
#include "server/relay_owner.h"

namespace isol8::server {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using boost::system::error_code;

// The request for the owner: the client's method, target, body and the headers that carry meaning
// for the owner (not Host or Connection, which belong to the client's hop), marked as relayed.
// The body is a view of the client's request, which outlives the write.
http::request<http::span_body<const char>> owner_request(const Request& request,
                                                         const client::ServerUrl& url,
                                                         const std::string& this_node) {
  http::request<http::span_body<const char>> out;
  out.version(11);
  out.method(request.method());
  if (request.method() == http::verb::unknown) out.method_string(request.method_string());
  out.target(url.base_path + std::string(request.target()));
  out.set(http::field::host, url.host_header());
  for (const http::field f :
       {http::field::authorization, http::field::content_type, http::field::accept}) {
    if (const auto it = request.find(f); it != request.end()) out.set(f, it->value());
  }
  out.set(kRelayedByHeader, this_node);
  // One connection per relayed request: the owner closes it after its response.
  out.keep_alive(false);
  out.body() = {request.body().data(), request.body().size()};
  out.prepare_payload();
  return out;
}

// The owner's response header as the client gets it: the client's HTTP version and keep-alive.
// Returns whether the client's connection can be kept after the body.
bool adapt_header(http::response<http::buffer_body>& response,
                  const http::response_parser<http::buffer_body>& parser, const Request& request) {
  bool keep = request.keep_alive();
  // A body that ends with the owner's connection ends with the client's as well.
  if (parser.need_eof()) keep = false;
  response.version(request.version());
  if (request.version() < 11 && response.chunked()) {
    // An HTTP/1.0 client cannot read chunks: the body goes as it is, ended by closing.
    response.chunked(false);
    keep = false;
  }
  response.erase(http::field::connection);
  response.erase(http::field::keep_alive);
  response.keep_alive(keep);
  return keep;
}

// Passes the owner's body to the client as it arrives, each read's bytes at once, however few:
// an SSE event is not held back for more. Returns whether the whole body went through; if not
// (the owner broke off, or the client is gone), closing is the only way left to tell the client.
asio::awaitable<bool> pass_body(beast::tcp_stream& owner, beast::flat_buffer& buffer,
                                http::response_parser<http::buffer_body>& parser,
                                beast::tcp_stream& client,
                                http::response_serializer<http::buffer_body>& serializer,
                                std::chrono::milliseconds write_timeout) {
  std::array<char, 16 * 1024> piece;
  http::buffer_body::value_type& body = parser.get().body();
  error_code ec;
  for (;;) {
    if (!parser.is_done()) {
      body.data = piece.data();
      body.size = piece.size();
      co_await http::async_read_some(owner, buffer, parser, with(ec));
      if (ec == http::error::need_buffer) ec = {};  // the piece is full
      if (ec) co_return false;
      body.size = piece.size() - body.size;
      body.data = piece.data();
      body.more = !parser.is_done();
      if (body.size == 0 && body.more) continue;  // a chunk header, no data yet
    } else {
      body.data = nullptr;
      body.size = 0;
      body.more = false;
    }
    client.expires_after(write_timeout);
    co_await http::async_write(client, serializer, with(ec));
    if (ec == http::error::need_buffer) ec = {};  // all of the piece written, more to come
    if (ec) co_return false;
    if (serializer.is_done()) co_return true;
  }
}

}  // namespace

asio::awaitable<RelayOutcome> relay_http(beast::tcp_stream& client, const Request& request,
                                         const std::string& owner_base_url,
                                         const std::string& this_node, const RelayLimits& limits) {
  beast::tcp_stream owner(client.get_executor());
  auto url = co_await connect_owner(owner, owner_base_url, limits);
  if (!url) co_return not_reached(std::move(url).error());

  // Until the owner answers (a POST /execute runs the whole program first), a client that hangs
  // up closes the owner connection, so that the owner stops the program as for its own clients.
  client.expires_never();  // the caller's request deadline is over; writes get their own below
  auto gone = std::make_shared<ClientGone>();
  gone->on_gone([&owner] { owner.close(); });
  auto stop_watching = watch_client(client.socket(), gone);
  ScopeExit stop_watching_on_return([&] { stop_watching(); });

  error_code ec;
  auto out = owner_request(request, *url, this_node);
  owner.expires_after(std::chrono::milliseconds(limits.write_timeout_ms));
  co_await http::async_write(owner, out, with(ec));
  if (ec) {
    co_return not_reached(owner_error("Cannot send the request to", owner_base_url, ec.message()));
  }

  beast::flat_buffer buffer;
  http::response_parser<http::buffer_body> parser;
  parser.header_limit(limits.max_header_bytes);
  // A stream's body has no length limit on this hop. Not boost::none: Beast 1.74 compares a
  // Content-Length with the optional limit as `len > none`, which is always true (body_limit).
  parser.body_limit(std::numeric_limits<std::uint64_t>::max());
  if (request.method() == http::verb::head) parser.skip(true);
  owner.expires_never();
  co_await http::async_read_header(owner, buffer, parser, with(ec));
  stop_watching();
  if (ec) co_return not_reached(owner_error("No response from", owner_base_url, ec.message()));

  http::response<http::buffer_body>& response = parser.get();
  RelayOutcome outcome;
  outcome.status = response.result_int();
  const bool keep = adapt_header(response, parser, request);
  http::response_serializer<http::buffer_body> serializer(response);
  const auto write_timeout = std::chrono::milliseconds(limits.write_timeout_ms);
  client.expires_after(write_timeout);
  co_await http::async_write_header(client, serializer, with(ec));
  if (ec) co_return outcome;  // keep_alive false: the client is gone

  const bool whole = co_await pass_body(owner, buffer, parser, client, serializer, write_timeout);
  client.expires_never();
  outcome.keep_alive = whole && keep;
  co_return outcome;
}

}  // namespace isol8::server
