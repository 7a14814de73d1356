// GET /execute/ws: one execution per connection. Client text frames are JSON:
//   {"type":"execute","request":...,"options"?:...,"sessionId"?:...}  starts the run
//   {"type":"signal","signal":"SIGINT"|"SIGTERM"}                        kills the running program
//   {"type":"stdin","data":"..."}                                       (accepted, see
//   docs/server.md)
// Server frames are StreamEvent JSON; after the run the server closes 1000 "Execution complete".
// Invalid JSON: {"type":"error","data":"Invalid JSON message"} and close 1003 "Invalid JSON";
// another type: {"type":"error","data":"Unknown message type: <type>"}, the connection stays.

// Boost 1.74's asio/awaitable.hpp uses std::exchange without including <utility>.
#include <utility>

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

namespace isol8::server {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using boost::system::error_code;
using nlohmann::json;
using WebSocket = websocket::stream<beast::tcp_stream>;

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

// Reads the messages that arrive while the program runs: signal messages kill it; stdin is
// accepted; anything else gets an error frame. Ends when the connection closes.
struct Reader {
  WebSocket& ws;
  std::shared_ptr<RunningExecution> running;
  std::deque<std::string>& replies;
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
          replies.push_back(event_text("error", "Unknown signal: " + name));
        }
      } else if (type == "stdin") {
        // Stdin is the request's `stdin` field, written before the program starts; a live stream
        // needs the engine to take one (not yet), so later data is acknowledged by nothing.
      } else if (type == "execute") {
        replies.push_back(event_text("error", "An execution is already running"));
      } else {
        replies.push_back(event_text("error", "Unknown message type: " + type));
      }
      wake.cancel();
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
  auto started = RunningExecution::start(state, std::move(envelope).value(), who, true);
  if (!started) {
    const bool busy = started.error().code == 503;
    if (co_await send(event_text("error", started.error().message))) {
      co_await close(busy ? websocket::close_code::try_again_later : websocket::close_code::normal,
                     busy ? "Server busy" : "Execution complete");
    }
    co_return;
  }
  std::shared_ptr<RunningExecution> running = std::move(started).value();

  std::deque<std::string> replies;
  asio::steady_timer reader_wake(state.ioc);
  reader_wake.expires_at(asio::steady_timer::time_point::max());
  bool reader_done = false;
  bool invalid_json = false;
  // A named object in this frame, not a temporary: the coroutine keeps a pointer to it (a
  // temporary's member coroutine resumed into freed memory once the client closed).
  Reader reader{ws, running, replies, reader_wake, reader_done, invalid_json};
  asio::co_spawn(state.ioc, reader(), asio::detached);

  bool client_gone = false;
  while (auto event = co_await running->next()) {
    while (!replies.empty() && !client_gone) {
      client_gone = !co_await send(replies.front());
      replies.pop_front();
    }
    if (!client_gone && !co_await send(*event)) client_gone = true;
    if (client_gone || reader_done) {
      running->cancel();  // nobody reads the output: stop the program
    }
  }
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
