#pragma once
// The world the proxy tests run in: a network and mount namespace of the test process's own, with
// loopback up, the TEST-NET addresses 203.0.113.10 and 198.51.100.7 on it, a private /etc/hosts
// naming the test hosts, and HTTP/HTTPS/echo servers. Nothing leaves the machine, and the proxy's
// loopback refusal is honest: the "public" servers are on addresses it does not refuse.
//
// Hosts: api.allowed.test, other.test, blocked.test -> 203.0.113.10 (HTTP :80, HTTPS :443);
// second.test -> 198.51.100.7 (nothing listens: connections are refused); private.test ->
// 10.1.2.3; meta.test -> 169.254.169.254; loop.test -> 127.0.0.1; mapped.test -> ::ffff:127.0.0.1.
// A TCP echo server listens on 127.0.0.1:kLoopbackEchoPort.

#include <utility>  // before Asio: Boost 1.74's awaitable.hpp uses std::exchange

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <memory>
#include <string>

#include "proxy/filtering_proxy.h"

namespace isol8::proxy::test {

namespace http = boost::beast::http;
using boost::asio::ip::tcp;

inline constexpr uint16_t kLoopbackEchoPort = 9000;
inline constexpr const char* kPublicAddress = "203.0.113.10";

// The PEM of the CA that signed the HTTPS server's certificate (made by the environment).
const std::string& test_ca_pem();

// A proxy on 127.0.0.1 with a kernel-chosen port; fails the test when it cannot start.
std::unique_ptr<FilteringProxy> start_proxy(ProxyConfig config);
uint16_t port_of(const FilteringProxy& proxy);

// A client connection to the proxy with a receive timeout, so a broken proxy fails a test
// instead of hanging it.
struct Client {
  explicit Client(uint16_t proxy_port);
  tcp::socket socket;
  boost::beast::flat_buffer buffer;

  void send(const std::string& raw);
  // Sends a request through the serializer (so chunked bodies are encoded) and reads the answer.
  http::response<http::string_body> roundtrip(http::request<http::string_body>& request);
  http::response<http::string_body> read_response(bool head_only = false);
  // CONNECT target; returns the proxy's answer (the body of a refusal, nothing on success).
  http::response<http::string_body> connect(const std::string& target);
  // True once the proxy closed the connection (reads EOF within the receive timeout).
  bool closed_by_peer();
};

// A GET through the proxy on a new connection: returns the response.
http::response<http::string_body> get(uint16_t proxy_port, const std::string& url);

}  // namespace isol8::proxy::test
