#include <boost/beast/http/verb.hpp>
#include <utility>

#include "isol8/version.h"
#include "server/handlers.h"

namespace isol8::server {

namespace http = boost::beast::http;

namespace {

// A draining server answers 503 so that a load balancer's health check takes it out before it
// stops listening; a cluster node names itself.
Response health_response(const ServerState& state) {
  nlohmann::ordered_json body;
  body["status"] = state.draining ? "draining" : "ok";
  body["version"] = kVersion;
  if (state.cluster) body["node"] = state.cluster->node_id();
  Response r = json_response(state.draining ? 503 : 200, nlohmann::json::object());
  r.body() = body.dump();  // upstream's key order: status, version
  return r;
}

}  // namespace

awaitable<Response> route_request(ServerState& state, const Request& request, const Principal& who,
                                  std::shared_ptr<ClientGone> gone) {
  const std::string path = request_path(request);
  const http::verb method = request.method();
  if (method == http::verb::get && path == "/health") {
    co_return health_response(state);
  }
  if (method == http::verb::post && path == "/execute") {
    co_return co_await handle_execute(state, request, who, std::move(gone));
  }
  if (path == "/file") {
    if (method == http::verb::post) co_return co_await handle_put_file(state, request, who);
    if (method == http::verb::get) co_return co_await handle_get_file(state, request, who);
  }
  if (method == http::verb::get && path == "/sessions") co_return handle_list_sessions(state, who);
  static constexpr std::string_view kSession = "/session/";
  if (method == http::verb::delete_ && path.size() > kSession.size() &&
      path.compare(0, kSession.size(), kSession) == 0) {
    co_return co_await handle_delete_session(state, path.substr(kSession.size()), who);
  }
  if (method == http::verb::post && path == "/cleanup") {
    co_return co_await handle_cleanup(state, who);
  }
  if (method == http::verb::get && path == "/metrics") co_return handle_metrics(state, who);
  if (path == "/auth/keys" || path == "/auth/login" || path.rfind("/auth/keys/", 0) == 0) {
    co_return handle_auth(state, request, who);
  }
  co_return text_response(404, "404 Not Found");
}

}  // namespace isol8::server
