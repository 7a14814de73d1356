// GET /execute/ws: one execution per connection. Client text frames are JSON:
//   {"type":"execute","request":...,"options"?:...,"sessionId"?:...,"stdinStream"?:bool}
//                                                    starts the run
//   {"type":"signal","signal":"SIGINT"|"SIGTERM"}    kills the running program
//   {"type":"stdin","data"?:"...","eof"?:bool}       the program's stdin, with stdinStream (below)
// Server frames are StreamEvent JSON; after the run the server closes 1000 "Execution complete".
// Invalid JSON: {"type":"error","data":"Invalid JSON message"} and close 1003 "Invalid JSON";
// another type: {"type":"error","data":"Unknown message type: <type>"}, the connection stays.
//
// Live stdin (ours; docs/server.md). Upstream reserves stdin messages and ignores them, and its
// clients expect a program to see the request's `stdin` field and then EOF; so that stays the
// rule unless the execute message says `"stdinStream": true`. Then the program's stdin stays
// open after the request's `stdin`: each stdin message's `data` is written to it as it arrives
// (the program can read a line, answer, read the next...), and `"eof": true` (after the message's
// data, if any) closes it, so the program sees EOF. A client that never sends eof leaves stdin
// open until the run ends (its time limit still holds) or the client goes (which stops the run).
// Stdin messages before the execute message are ignored in either case, as upstream. Data the
// program has not taken yet waits in the server up to kMaxWaitingStdin; a message beyond it is
// refused with an error frame (the connection stays), and so is one after eof.

// Boost 1.74's asio/awaitable.hpp uses std::exchange without including <utility>.
#include <utility>

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <boost/asio/buffer.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/websocket/stream.hpp>

#include "server/awaitable.h"
#include "server/connection.h"
#include "server/envelope.h"
#include "server/execution_runner.h"
#include "server/live_stdin.h"
#include "server/session_placement.h"

namespace isol8::server {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using boost::system::error_code;
using nlohmann::json;
using WebSocket = websocket::stream<beast::tcp_stream>;

// The most stdin bytes that may wait in the server for a program that has not read them yet
// (beyond the socket's own buffer and the runner's 64 KiB).
constexpr size_t kMaxWaitingStdin = 1 << 20;

// A client message: the parsed object, or nullopt for anything that is not a JSON object
// (binary frames included, as upstream).
std::optional<json> parse_message(const beast::flat_buffer& buffer, bool text) {
  if (!text) return std::nullopt;
  json j = json::parse(beast::buffers_to_string(buffer.data()), nullptr, false);
  if (j.is_discarded() || !j.is_object()) return std::nullopt;
  return j;
}

std::string type_of(const json& message) {
  const auto t = message.find("type");
  return t != message.end() && t->is_string() ? t->get<std::string>()
                                              : (t == message.end() ? "undefined" : t->dump());
}

// A stdin message for a live stdin: its data written, then its eof; an error frame when it cannot
// be taken.
std::optional<std::string> feed_stdin_message(LiveStdin& stdin_pipe, const json& message) {
  const auto data = message.find("data");
  const auto eof = message.find("eof");
  if (data != message.end() && !data->is_string()) {
    return event_text("error", "stdin data must be a string");
  }
  if (eof != message.end() && !eof->is_boolean()) {
    return event_text("error", "stdin eof must be a boolean");
  }
  if (data != message.end()) {
    const auto& bytes = data->get_ref<const std::string&>();
    switch (stdin_pipe.write(bytes)) {
      case LiveStdin::Accepted::kQueued:
        break;
      case LiveStdin::Accepted::kClosed:
        return event_text("error", "Stdin is closed");
      case LiveStdin::Accepted::kOverCap:
        return event_text(
            "error", fmt::format("Stdin message dropped: the program has not read the {} bytes "
                                 "before it (at most {} may wait)",
                                 stdin_pipe.waiting(), stdin_pipe.cap()));
    }
  }
  if (eof != message.end() && eof->get<bool>()) stdin_pipe.finish();
  return std::nullopt;
}

// Reads the messages that arrive while the program runs: signal messages kill it; stdin goes to
// the live stdin when there is one (else it is ignored, as upstream); anything else gets an error
// frame. Ends when the connection closes.
struct Reader {
  WebSocket& ws;
  std::shared_ptr<RunningExecution> running;
  std::shared_ptr<LiveStdin> stdin_pipe;  // null without stdinStream
  asio::steady_timer& wake;
  bool& done;
  bool& invalid_json;

  asio::awaitable<void> operator()() {
    beast::flat_buffer buffer;
    for (;;) {
      error_code ec;
      co_await ws.async_read(buffer, with(ec));
      if (ec) break;
      auto message = parse_message(buffer, ws.got_text());
      buffer.consume(buffer.size());
      if (!message) {
        invalid_json = true;
        running->cancel();
        break;
      }
      const std::string type = type_of(*message);
      if (type == "signal") {
        const auto s = message->find("signal");
        const std::string name = s != message->end() && s->is_string() ? s->get<std::string>() : "";
        if (name == "SIGINT" || name == "SIGTERM" || name == "SIGKILL") {
          running->cancel();
        } else {
          running->reply(event_text("error", "Unknown signal: " + name));
        }
      } else if (type == "stdin") {
        if (stdin_pipe) {
          if (auto error = feed_stdin_message(*stdin_pipe, *message)) running->reply(*error);
        }
      } else if (type == "execute") {
        running->reply(event_text("error", "An execution is already running"));
      } else {
        running->reply(event_text("error", "Unknown message type: " + type));
      }
    }
    // The connection is over (closed by us after the run, or by the client during it): a run
    // nobody reads is stopped.
    running->cancel();
    done = true;
    wake.cancel();
  }
};

}  // namespace

asio::awaitable<void> serve_websocket(ServerState& state, beast::tcp_stream stream, Request request,
                                      Principal who) {
  WebSocket ws(std::move(stream));
  ws.set_option(websocket::stream_base::timeout::suggested(beast::role_type::server));
  ws.read_message_max(state.settings.wire.max_ws_message_bytes);
  ws.set_option(websocket::stream_base::decorator(
      [&state](websocket::response_type& response) { name_node(state, response); }));
  error_code ec;
  co_await ws.async_accept(request, with(ec));
  if (ec) co_return;
  ws.text(true);
  auto send = [&](const std::string& text) -> asio::awaitable<bool> {
    co_await ws.async_write(asio::buffer(text), with(ec));
    co_return !ec;
  };

  // Until an execute message: stdin and signal are accepted and ignored, as upstream.
  beast::flat_buffer buffer;
  std::optional<json> execute;
  while (!execute) {
    co_await ws.async_read(buffer, with(ec));
    if (ec) co_return;
    auto message = parse_message(buffer, ws.got_text());
    buffer.consume(buffer.size());
    if (!message) {
      if (co_await send(event_text("error", "Invalid JSON message"))) {
        co_await ws.async_close({websocket::close_code::unknown_data, "Invalid JSON"}, with(ec));
      }
      co_return;
    }
    const std::string type = type_of(*message);
    if (type == "execute") {
      execute = std::move(message);
    } else if (type != "stdin" && type != "signal") {
      if (!co_await send(event_text("error", "Unknown message type: " + type))) co_return;
    }
  }

  auto close = [&](websocket::close_code code, const char* reason) -> asio::awaitable<void> {
    co_await ws.async_close({code, reason}, with(ec));
  };
  auto envelope = parse_envelope(*execute);
  if (!envelope) {
    if (co_await send(event_text("error", envelope.error().message))) {
      co_await close(websocket::close_code::normal, "Execution complete");
    }
    co_return;
  }
  if (state.cluster && envelope->session_id) {
    // Only here does a cluster node learn which session a WebSocket is for.
    const bool relayed = request.find(kRelayedByHeader) != request.end();
    Placement placed = place_session(state, *envelope->session_id, who, /*creates=*/true,
                                     /*deleting=*/false, relayed);
    if (placed.action == Placement::Action::kAnswer) {
      if (co_await send(event_text("error", placed.message))) {
        co_await close(websocket::close_code::normal, "Execution complete");
      }
      co_return;
    }
    if (placed.action == Placement::Action::kRelay) {
      const auto auth = request.find(beast::http::field::authorization);
      const RelayOutcome relayed = co_await relay_websocket(
          ws, auth == request.end() ? std::string() : std::string(auth->value()), execute->dump(),
          placed.owner_url, state.cluster->node_id(), relay_limits(state));
      if (relayed.reached()) co_return;
      spdlog::warn("relaying to node {}: {}", placed.owner_id, relayed.not_reached->message);
      if (co_await send(
              event_text("error", unreachable_owner_message(placed, *relayed.not_reached)))) {
        co_await close(websocket::close_code::normal, "Execution complete");
      }
      co_return;
    }
  }
  // stdinStream (ours): the program's stdin stays open for the client's stdin messages.
  std::shared_ptr<LiveStdin> stdin_pipe;
  UniqueFd stdin_source;
  if (const auto flag = execute->find("stdinStream"); flag != execute->end() && !flag->is_null()) {
    if (!flag->is_boolean()) {
      if (co_await send(event_text("error", "stdinStream must be a boolean"))) {
        co_await close(websocket::close_code::normal, "Execution complete");
      }
      co_return;
    }
    if (flag->get<bool>()) {
      auto opened = LiveStdin::open(state.ioc, kMaxWaitingStdin);
      if (!opened) {
        if (co_await send(event_text("error", opened.error().message))) {
          co_await close(websocket::close_code::normal, "Execution complete");
        }
        co_return;
      }
      stdin_pipe = std::move(opened->writer);
      stdin_source = std::move(opened->engine_end);
    }
  }
  auto started = RunningExecution::start(state, std::move(envelope).value(), who, true,
                                         std::move(stdin_source));
  if (!started) {
    const bool busy = started.error().code == 503;
    if (co_await send(event_text("error", started.error().message))) {
      co_await close(busy ? websocket::close_code::try_again_later : websocket::close_code::normal,
                     busy ? "Server busy" : "Execution complete");
    }
    co_return;
  }
  std::shared_ptr<RunningExecution> running = std::move(started).value();

  asio::steady_timer reader_wake(state.ioc);
  reader_wake.expires_at(asio::steady_timer::time_point::max());
  bool reader_done = false;
  bool invalid_json = false;
  // A named object in this frame, not a temporary: the coroutine keeps a pointer to it (a
  // temporary's member coroutine resumed into freed memory once the client closed).
  Reader reader{ws, running, stdin_pipe, reader_wake, reader_done, invalid_json};
  asio::co_spawn(state.ioc, reader(), asio::detached);

  bool client_gone = false;
  while (auto event = co_await running->next()) {
    if (!client_gone && !co_await send(*event)) client_gone = true;
    if (client_gone || reader_done) {
      running->cancel();  // nobody reads the output: stop the program
    }
  }
  // Whatever the client still sends can no longer reach the program.
  if (stdin_pipe) stdin_pipe->abort();
  const auto& result = running->result();
  if (!client_gone && !result && !running->sent_error_event() && !invalid_json) {
    client_gone = !co_await send(event_text("error", result.error().message));
  }
  if (!client_gone && !reader_done) {
    if (invalid_json) {
      if (co_await send(event_text("error", "Invalid JSON message"))) {
        co_await close(websocket::close_code::unknown_data, "Invalid JSON");
      }
    } else {
      co_await close(websocket::close_code::normal, "Execution complete");
    }
  }
  // The reader holds references into this frame: wait until it has ended.
  if (!reader_done) {
    beast::get_lowest_layer(ws).expires_after(std::chrono::seconds(5));
    while (!reader_done) {
      co_await reader_wake.async_wait(with(ec));
    }
  }
}

}  // namespace isol8::server
