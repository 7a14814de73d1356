// libFuzzer target: raw bytes as an HTTP/1.1 request -> Beast's parser under the server's limits
// -> authentication -> the router and its handlers. The worker pool has no workers and no queue,
// so an execution is refused (503) instead of starting a sandbox; everything before it (body
// parsing, envelope, policy, sessions, auth endpoints without a key store) runs for real.

#include <cstddef>
#include <cstdint>
#include <utility>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/beast/http/parser.hpp>

#include "server/handlers.h"
#include "server/server_state.h"

namespace {

namespace http = boost::beast::http;
using namespace isol8::server;

constexpr const char* kKey = "fuzz-key";

ServerState& state(boost::asio::io_context& ioc) {
  static ServerState* s = [&] {
    auto settings = settings_from_config(nlohmann::json::object(), isol8::Options{});
    ServerSettings made = settings ? std::move(settings).value() : ServerSettings{};
    made.master_key = kKey;
    made.max_concurrent = 0;
    made.queue_size = 0;
    return new ServerState(std::move(made), ioc, nullptr);
  }();
  return *s;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static boost::asio::io_context ioc(1);
  ServerState& s = state(ioc);
  http::request_parser<http::string_body> parser;
  parser.header_limit(s.settings.wire.max_header_bytes);
  parser.body_limit(s.settings.wire.max_body_bytes);
  parser.eager(true);
  boost::system::error_code ec;
  parser.put(boost::asio::buffer(data, size), ec);
  if (!ec && !parser.is_done()) parser.put_eof(ec);
  if (ec || !parser.is_done()) return 0;
  Request request = parser.release();
  const auto header = request.find(http::field::authorization);
  auto who = s.auth.authenticate(
      header == request.end() ? std::nullopt : std::optional<std::string_view>(header->value()));
  if (!who && request_path(request) != "/health") return 0;
  Principal principal = who ? std::move(who).value() : Principal{};
  boost::asio::co_spawn(ioc, route_request(s, request, principal), boost::asio::detached);
  ioc.restart();
  ioc.run();
  return 0;
}
