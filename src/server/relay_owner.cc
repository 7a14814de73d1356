#include "server/relay_owner.h"

#include <fmt/format.h>
#include <boost/asio/ip/tcp.hpp>

#include "server/awaitable.h"

namespace isol8::server {

namespace asio = boost::asio;
using boost::system::error_code;

RelayOutcome not_reached(Error error) {
  RelayOutcome outcome;
  outcome.not_reached = std::move(error);
  return outcome;
}

Error owner_error(std::string_view what, const std::string& owner_base_url, std::string_view why) {
  return make_error(fmt::format("{} session owner {}: {}", what, owner_base_url, why));
}

asio::awaitable<Result<client::ServerUrl>> connect_owner(boost::beast::tcp_stream& owner,
                                                         const std::string& owner_base_url,
                                                         const RelayLimits& limits) {
  auto url = client::parse_server_url(owner_base_url);
  if (!url) co_return std::move(url).error().context("Session owner");
  if (url->tls) {
    co_return owner_error("Cannot relay to", owner_base_url, "only http:// owners are supported");
  }
  // The registry holds addresses (host:port), so resolving takes no time; it has no deadline of
  // its own in Asio.
  asio::ip::tcp::resolver resolver(owner.get_executor());
  error_code ec;
  const auto endpoints = co_await resolver.async_resolve(url->host, url->port, with(ec));
  if (ec) {
    co_return owner_error("Cannot resolve", owner_base_url, ec.message());
  }
  owner.expires_after(std::chrono::milliseconds(limits.connect_timeout_ms));
  co_await owner.async_connect(endpoints, with(ec));
  if (ec) {
    co_return owner_error("Cannot connect to", owner_base_url, ec.message());
  }
  owner.expires_never();
  co_return std::move(url).value();
}

}  // namespace isol8::server
