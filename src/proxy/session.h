#pragma once
// One client connection of the proxy (internal): reads requests, applies the filter and the
// address policy, then tunnels (CONNECT) or forwards (absolute-URI HTTP). Runs as coroutines on
// the proxy's io thread; a watchdog timer enforces the limits' timeouts by closing the sockets.

#include <utility>  // before Asio: Boost 1.74's awaitable.hpp uses std::exchange

#include <boost/asio/awaitable.hpp>
#include <boost/asio/generic/stream_protocol.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "isol8/types.h"
#include "proxy/request_target.h"
#include "proxy/slot_state.h"

namespace isol8::proxy {

class Session : public std::enable_shared_from_this<Session> {
 public:
  using ClientSocket = boost::asio::generic::stream_protocol::socket;

  // The slot has already counted this connection (SlotState::try_open); the session releases it.
  Session(ClientSocket client, std::shared_ptr<SlotState> slot);
  ~Session();

  void start();
  // Closes both sockets; the coroutines then finish and record their log entry. Io thread only.
  void abort();

 private:
  using RequestParser = boost::beast::http::request_parser<boost::beast::http::buffer_body>;
  using Clock = std::chrono::steady_clock;

  struct PendingLog {
    NetworkLogEntry entry;
    Clock::time_point started;
  };

  boost::asio::awaitable<void> run();
  boost::asio::awaitable<void> watchdog();
  // Each returns whether the client connection may carry another request.
  boost::asio::awaitable<bool> handle_connect(RequestParser& parser);
  boost::asio::awaitable<bool> handle_http(RequestParser& parser);
  // Filter, resolution, address policy, connection: true when upstream_ is connected; otherwise
  // the client has been answered (403/502) and the log entry recorded.
  boost::asio::awaitable<bool> open_upstream(const Target& target, bool is_connect,
                                             unsigned version);
  boost::asio::awaitable<void> pump(bool from_client);
  boost::asio::awaitable<void> respond(unsigned status, const std::string& body, unsigned version);

  void begin_log(std::string method, const Target& target, std::optional<std::string> path);
  void finish_log(const char* action);
  void touch(std::chrono::milliseconds timeout);
  void close_sockets();

  ClientSocket client_;
  boost::asio::ip::tcp::socket upstream_;
  boost::asio::ip::tcp::resolver resolver_;
  boost::asio::steady_timer deadline_;
  std::shared_ptr<SlotState> slot_;
  std::shared_ptr<const Policy> policy_;
  boost::beast::flat_buffer client_buffer_;
  boost::beast::flat_buffer upstream_buffer_;
  std::optional<PendingLog> pending_;
  int active_pumps_ = 0;
  bool tunnel_ = false;
  bool done_ = false;
};

}  // namespace isol8::proxy
