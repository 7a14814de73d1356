// POST /execute/stream: `data: <StreamEvent JSON>\n\n` per event over a chunked 200 response
// (Content-Type text/event-stream), then the end of the body. An engine error that produced no
// event of its own becomes {"type":"error","data":"<message>"} (no phase, no exit), as upstream.
// What the server refuses before the run (malformed body 400, policy 400/403, queue full 503)
// is a JSON error response instead, which upstream's client reports as "Stream failed: <error>".

// Boost 1.74's asio/awaitable.hpp uses std::exchange without including <utility>.
#include <utility>

#include <boost/asio/buffer.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/http/chunk_encode.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/serializer.hpp>
#include <boost/beast/http/write.hpp>

#include "server/awaitable.h"
#include "server/connection.h"
#include "server/envelope.h"
#include "server/execution_runner.h"
#include "server/session_placement.h"

namespace isol8::server {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using boost::system::error_code;

}  // namespace

asio::awaitable<std::pair<int, bool>> serve_sse(ServerState& state, beast::tcp_stream& stream,
                                                const Request& request, const Principal& who) {
  const auto write_timeout = std::chrono::milliseconds(state.settings.wire.write_timeout_ms);
  error_code ec;
  auto refuse = [&](const Error& e) -> asio::awaitable<std::pair<int, bool>> {
    Response r = error_response(e);
    if (r.result_int() == 503) r.set(http::field::retry_after, "1");
    r.version(request.version());
    r.keep_alive(request.keep_alive());
    r.prepare_payload();
    stream.expires_after(write_timeout);
    co_await http::async_write(stream, r, with(ec));
    co_return std::pair{r.result_int(), !ec};
  };
  auto body = parse_json_body(request.body());
  if (!body) co_return co_await refuse(body.error());
  auto envelope = parse_envelope(*body);
  if (!envelope) co_return co_await refuse(envelope.error());
  auto started = RunningExecution::start(state, std::move(envelope).value(), who, true);
  if (!started) co_return co_await refuse(started.error());
  std::shared_ptr<RunningExecution> running = std::move(started).value();

  http::response<http::empty_body> header{http::status::ok, request.version()};
  header.set(http::field::content_type, "text/event-stream");
  name_node(state, header);
  header.set(http::field::cache_control, "no-cache");
  header.keep_alive(request.keep_alive());
  header.chunked(true);
  http::response_serializer<http::empty_body> serializer{header};
  stream.expires_after(write_timeout);
  co_await http::async_write_header(stream, serializer, with(ec));

  auto send = [&](const std::string& event) -> asio::awaitable<bool> {
    if (ec) co_return false;
    const std::string frame = "data: " + event + "\n\n";
    stream.expires_after(write_timeout);
    co_await asio::async_write(stream, http::make_chunk(asio::buffer(frame)), with(ec));
    co_return !ec;
  };
  while (auto event = co_await running->next()) {
    if (!co_await send(*event)) {
      // The client is gone (or too slow): stop the program instead of running it for nobody.
      running->cancel();
      co_await running->wait();
      co_return std::pair{200, false};
    }
  }
  const auto& result = running->result();
  if (!result && !running->sent_error_event()) {
    const std::string text = event_text("error", result.error().message);
    co_await send(text);
  }
  if (!ec) {
    stream.expires_after(write_timeout);
    co_await asio::async_write(stream, http::make_chunk_last(), with(ec));
  }
  co_return std::pair{200, !ec};
}

}  // namespace isol8::server
