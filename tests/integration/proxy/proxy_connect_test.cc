// CONNECT tunnels: TLS end to end to an HTTPS server that the client verifies, the filter's
// answers, the log of a tunnel, and tunnels that outlive their proxy's patience or the proxy.

#include <openssl/ssl.h>

#include <gtest/gtest.h>

#include <boost/asio/read.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>

#include "proxy_env.h"

namespace isol8::proxy::test {
namespace {

namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;

ProxyConfig filter(std::vector<std::string> whitelist, std::vector<std::string> blacklist = {}) {
  ProxyConfig config;
  config.filter.whitelist = std::move(whitelist);
  config.filter.blacklist = std::move(blacklist);
  config.log_network = true;
  return config;
}

// Speaks TLS through an established tunnel, verifying the server as `host` against the test CA,
// and returns the body of GET `path`.
std::string https_get(Client& client, const std::string& host, const std::string& path) {
  ssl::context ctx{ssl::context::tls_client};
  ctx.add_certificate_authority(asio::buffer(test_ca_pem()));
  ctx.set_verify_mode(ssl::verify_peer);
  ssl::stream<tcp::socket&> tls(client.socket, ctx);
  SSL_set_tlsext_host_name(tls.native_handle(), host.c_str());
  SSL_set1_host(tls.native_handle(), host.c_str());
  tls.handshake(ssl::stream_base::client);
  http::request<http::string_body> req{http::verb::get, path, 11};
  req.set(http::field::host, host);
  http::write(tls, req);
  boost::beast::flat_buffer buffer;
  http::response<http::string_body> res;
  http::read(tls, buffer, res);
  return res.body();
}

TEST(ProxyConnect, TunnelsTlsToAnAllowedHost) {
  auto proxy = start_proxy(filter({R"(^api\.allowed\.test$)"}));
  ASSERT_TRUE(proxy);
  Client client(port_of(*proxy));
  const auto answer = client.connect("api.allowed.test:443");
  ASSERT_EQ(answer.result_int(), 200);
  EXPECT_EQ(answer.reason(), "Connection Established");
  EXPECT_EQ(https_get(client, "api.allowed.test", "/hello"),
            "hello GET /hello host=api.allowed.test");
}

TEST(ProxyConnect, PortDefaultsTo443) {
  auto proxy = start_proxy(filter({}));
  ASSERT_TRUE(proxy);
  Client client(port_of(*proxy));
  ASSERT_EQ(client.connect("other.test").result_int(), 200);
  EXPECT_EQ(https_get(client, "other.test", "/x"), "hello GET /x host=other.test");
}

TEST(ProxyConnect, TlsVerificationStillBindsTheName) {
  // The tunnel is transparent: a client asking for a name the certificate lacks still fails.
  auto proxy = start_proxy(filter({}));
  ASSERT_TRUE(proxy);
  Client client(port_of(*proxy));
  ASSERT_EQ(client.connect("blocked.test:443").result_int(), 200);
  EXPECT_THROW(https_get(client, "blocked.test", "/"), boost::system::system_error);
}

TEST(ProxyConnect, DeniedHostGetsExact403) {
  auto proxy = start_proxy(filter({R"(\.test$)"}, {R"(^blocked\.test$)"}));
  ASSERT_TRUE(proxy);
  Client client(port_of(*proxy));
  const auto answer = client.connect("blocked.test:443");
  EXPECT_EQ(answer.result_int(), 403);
  EXPECT_EQ(answer.body(), "isol8: CONNECT to blocked.test blocked by network filter");
  Client other(port_of(*proxy));
  EXPECT_EQ(other.connect("notlisted.example:443").result_int(), 403);
}

TEST(ProxyConnect, RefusedUpstreamIs502) {
  auto proxy = start_proxy(filter({}));
  ASSERT_TRUE(proxy);
  Client client(port_of(*proxy));
  const auto answer = client.connect("second.test:81");
  EXPECT_EQ(answer.result_int(), 502);
  EXPECT_EQ(answer.body(), "isol8: proxy error: connection to second.test:81 failed");
}

TEST(ProxyConnect, LogsTheTunnelWhenItCloses) {
  auto proxy = start_proxy(filter({}, {"^blocked"}));
  ASSERT_TRUE(proxy);
  {
    Client client(port_of(*proxy));
    ASSERT_EQ(client.connect("api.allowed.test:443").result_int(), 200);
    EXPECT_EQ(https_get(client, "api.allowed.test", "/hello"),
              "hello GET /hello host=api.allowed.test");
  }
  {
    Client blocked(port_of(*proxy));
    EXPECT_EQ(blocked.connect("blocked.test:8443").result_int(), 403);
  }
  proxy->close_connections();
  auto logs = proxy->take_logs();
  ASSERT_EQ(logs.size(), 2u);
  // The blocked one finished first; the tunnel when it closed.
  std::sort(logs.begin(), logs.end(), [](const auto& a, const auto& b) { return a.host < b.host; });
  EXPECT_EQ(logs[0].method, "CONNECT");
  EXPECT_EQ(logs[0].host, "api.allowed.test");
  EXPECT_EQ(logs[0].port, 443);
  EXPECT_FALSE(logs[0].path.has_value());
  EXPECT_EQ(logs[0].action, "ALLOW");
  EXPECT_GT(logs[0].bytes, 1000u);  // a TLS handshake and an HTTP exchange went through
  EXPECT_EQ(logs[1].host, "blocked.test");
  EXPECT_EQ(logs[1].port, 8443);
  EXPECT_EQ(logs[1].action, "BLOCK");
  EXPECT_FALSE(logs[1].path.has_value());
}

TEST(ProxyConnect, CloseConnectionsEndsOpenTunnelsAndRecordsThem) {
  auto proxy = start_proxy(filter({R"(^127\.0\.0\.1$)"}));
  ASSERT_TRUE(proxy);
  Client client(port_of(*proxy));
  ASSERT_EQ(client.connect("127.0.0.1:" + std::to_string(kLoopbackEchoPort)).result_int(), 200);
  client.send("ping");
  std::string echoed(4, '\0');
  asio::read(client.socket, asio::buffer(echoed));
  ASSERT_EQ(echoed, "ping");
  proxy->close_connections();  // the tunnel is still open: this ends it
  EXPECT_TRUE(client.closed_by_peer());
  const auto logs = proxy->take_logs();
  ASSERT_EQ(logs.size(), 1u);
  EXPECT_EQ(logs[0].bytes, 8u);
}

TEST(ProxyConnect, AHalfCloseTravelsThroughTheTunnel) {
  auto proxy = start_proxy(filter({R"(^127\.0\.0\.1$)"}));
  ASSERT_TRUE(proxy);
  Client client(port_of(*proxy));
  ASSERT_EQ(client.connect("127.0.0.1:" + std::to_string(kLoopbackEchoPort)).result_int(), 200);
  client.send("last words");
  client.socket.shutdown(tcp::socket::shutdown_send);
  // The echo server sees the end of its input only through the proxy; its answer still comes.
  std::string echoed(10, '\0');
  asio::read(client.socket, asio::buffer(echoed));
  EXPECT_EQ(echoed, "last words");
  EXPECT_TRUE(client.closed_by_peer());
}

TEST(ProxyConnect, DestroyingTheProxyEndsOpenTunnels) {
  auto proxy = start_proxy(filter({}));
  ASSERT_TRUE(proxy);
  Client client(port_of(*proxy));
  ASSERT_EQ(client.connect("api.allowed.test:443").result_int(), 200);
  Client idle(port_of(*proxy));
  idle.send("GET http://api.allowed.test/ HTTP/1.1\r\n");  // half a header
  proxy.reset();                                           // must not hang
  EXPECT_TRUE(client.closed_by_peer());
  EXPECT_TRUE(idle.closed_by_peer());
}

}  // namespace
}  // namespace isol8::proxy::test
