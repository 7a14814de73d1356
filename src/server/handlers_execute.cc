// POST /execute: the buffered result, or {"error"} (500 for the engine's errors, as upstream;
// 400/403/503 for what the server refuses).

// Boost 1.74's asio/awaitable.hpp uses std::exchange without including <utility>.
#include <utility>

#include "isol8/json.h"
#include "server/envelope.h"
#include "server/execution_runner.h"
#include "server/handlers.h"

namespace isol8::server {

awaitable<Response> handle_execute(ServerState& state, const Request& request, const Principal& who,
                                   std::shared_ptr<ClientGone> gone) {
  auto body = parse_json_body(request.body());
  if (!body) co_return error_response(body.error());
  auto envelope = parse_envelope(*body);
  if (!envelope) co_return error_response(envelope.error());
  auto running = RunningExecution::start(state, std::move(envelope).value(), who, false);
  if (!running) {
    Response r = error_response(running.error());
    if (running.error().code == 503) r.set(boost::beast::http::field::retry_after, "1");
    co_return r;
  }
  if (gone) {
    // Nobody will read the result: the program stops now, not at its time limit.
    gone->on_gone([weak = std::weak_ptr<RunningExecution>(*running)] {
      if (auto r = weak.lock()) r->cancel();
    });
  }
  co_await (*running)->wait();
  auto& result = (*running)->result();
  if (!result) {
    Response r = error_response(result.error());
    if (result.error().code == 503) r.set(boost::beast::http::field::retry_after, "1");
    co_return r;
  }
  co_return json_response(200, to_json(std::move(*result)));
}

}  // namespace isol8::server
