#include "server/connection.h"
#include <utility>

#include <spdlog/spdlog.h>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/websocket/rfc6455.hpp>

#include "common/scope_exit.h"
#include "server/access_log.h"
#include "server/awaitable.h"
#include "server/handlers.h"
#include "server/http_error.h"
#include "server/session_placement.h"

namespace isol8::server {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using boost::system::error_code;

// The reply to a request the parser refused, or 0 to close without one (a timeout, a reset).
int status_for(const error_code& ec) {
  if (ec == http::error::header_limit || ec == http::error::buffer_overflow) return 431;
  if (ec == http::error::body_limit) return 413;
  if (ec == beast::error::timeout || ec == http::error::end_of_stream || ec == asio::error::eof ||
      ec == asio::error::connection_reset || ec == asio::error::operation_aborted ||
      ec == http::error::partial_message) {
    return 0;
  }
  return 400;
}

const char* message_for(int status) {
  switch (status) {
    case 413:
      return "Request body too large";
    case 414:
      return "URL too long";
    case 431:
      return "Request header fields too large";
    default:
      return "Bad Request";
  }
}

}  // namespace

asio::awaitable<void> serve_connection(ServerState& state, asio::ip::tcp::socket socket) {
  ++state.connections;
  ScopeExit count([&] { --state.connections; });
  error_code ec;
  const auto peer = socket.remote_endpoint(ec);
  const std::string remote = ec ? std::string() : peer.address().to_string();
  beast::tcp_stream stream(std::move(socket));
  beast::flat_buffer buffer;
  const WireLimits& limits = state.settings.wire;
  bool first = true;

  for (;;) {
    http::request_parser<http::string_body> parser;
    parser.header_limit(limits.max_header_bytes);
    parser.body_limit(limits.max_body_bytes);
    // Waiting for a request: the first must arrive within the request timeout, a kept-alive
    // connection may idle for the idle timeout.
    stream.expires_after(
        std::chrono::milliseconds(first ? limits.request_timeout_ms : limits.idle_timeout_ms));
    first = false;
    co_await http::async_read_header(stream, buffer, parser, with(ec));
    const auto started = std::chrono::steady_clock::now();
    std::string method_text = "-";
    std::string target = "-";
    auto reply_and_close = [&](int status, const std::string& key_id) -> asio::awaitable<void> {
      Response r = error_response(status, message_for(status));
      name_node(state, r);
      r.keep_alive(false);
      r.prepare_payload();
      stream.expires_after(std::chrono::milliseconds(limits.write_timeout_ms));
      error_code wec;
      co_await http::async_write(stream, r, with(wec));
      state.metrics.http_response(status);
      if (state.settings.access_log) {
        write_access_line({method_text, target, status, std::chrono::steady_clock::now() - started,
                           key_id, remote});
      }
    };
    if (ec) {
      if (const int status = status_for(ec); status != 0) co_await reply_and_close(status, "");
      break;
    }
    method_text = std::string(parser.get().method_string());
    target = std::string(parser.get().target());
    if (target.size() > limits.max_url_bytes) {
      target = target.substr(0, 64) + "...";
      co_await reply_and_close(414, "");
      break;
    }
    // The whole request, header and body, must arrive within the request timeout.
    stream.expires_after(std::chrono::milliseconds(limits.request_timeout_ms));
    if (!parser.is_done()) {
      if (beast::iequals(parser.get()[http::field::expect], "100-continue")) {
        http::response<http::empty_body> go{http::status::continue_, parser.get().version()};
        co_await http::async_write(stream, go, with(ec));
        if (ec) break;
      }
      co_await http::async_read(stream, buffer, parser, with(ec));
      if (ec) {
        if (const int status = status_for(ec); status != 0) co_await reply_and_close(status, "");
        break;
      }
    }
    Request request = parser.release();
    const std::string path = request_path(request);

    Principal who;
    Response response;
    bool answered = false;
    auto log_served = [&](int status) {
      state.metrics.http_response(status);
      if (state.settings.access_log) {
        write_access_line({method_text, target, status, std::chrono::steady_clock::now() - started,
                           who.key_id, remote});
      }
    };
    if (path != "/health") {
      const auto header = request.find(http::field::authorization);
      auto principal = state.auth.authenticate(
          header == request.end() ? std::nullopt
                                  : std::optional<std::string_view>(header->value()));
      if (!principal) {
        state.metrics.auth_failure(status_of(principal.error()));
        response = error_response(principal.error());
        answered = true;
      } else {
        who = std::move(principal).value();
      }
    }
    if (!answered && state.cluster) {
      // A cluster node: a request for another node's session is relayed there, one for a
      // session whose node is gone is answered here.
      Placement placed = place_request(state, request, who);
      if (placed.action == Placement::Action::kAnswer) {
        response = std::move(placed.answer);
        answered = true;
      } else if (placed.action == Placement::Action::kRelay) {
        stream.expires_never();
        const RelayOutcome relayed = co_await relay_http(
            stream, request, placed.owner_url, state.cluster->node_id(), relay_limits(state));
        if (relayed.reached()) {
          log_served(relayed.status);
          if (!relayed.keep_alive || state.shutting_down) break;
          continue;
        }
        spdlog::warn("relaying to node {}: {}", placed.owner_id, relayed.not_reached->message);
        response = error_response(503, unreachable_owner_message(placed, *relayed.not_reached));
        answered = true;
      }
    }
    if (!answered && request.method() == http::verb::get && path == "/execute/ws" &&
        beast::websocket::is_upgrade(request)) {
      state.metrics.http_response(101);
      if (state.settings.access_log) {
        write_access_line({method_text, target, 101, std::chrono::steady_clock::now() - started,
                           who.key_id, remote});
      }
      stream.expires_never();
      co_await serve_websocket(state, std::move(stream), std::move(request), std::move(who));
      co_return;
    }
    bool keep = request.keep_alive() && !state.shutting_down;
    int status = 0;
    if (!answered && request.method() == http::verb::post && path == "/execute/stream") {
      stream.expires_never();
      auto [sent, kept] = co_await serve_sse(state, stream, request, who);
      status = sent;
      keep = keep && kept;
    } else {
      if (!answered) {
        // Executions take as long as they take; the write below has its own deadline.
        stream.expires_never();
        auto gone = std::make_shared<ClientGone>();
        auto stop_watching = watch_client(beast::get_lowest_layer(stream).socket(), gone);
        response = co_await route_request(state, request, who, gone);
        stop_watching();
      }
      status = response.result_int();
      name_node(state, response);
      response.version(request.version());
      response.keep_alive(keep);
      response.prepare_payload();
      stream.expires_after(std::chrono::milliseconds(limits.write_timeout_ms));
      co_await http::async_write(stream, response, with(ec));
      keep = keep && !ec;
    }
    log_served(status);
    if (!keep) break;
  }
  stream.socket().shutdown(asio::ip::tcp::socket::shutdown_send, ec);
}

}  // namespace isol8::server
