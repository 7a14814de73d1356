// What untrusted code can make the proxy spend, and the proxy's other ways in: many connections
// at once, the connection limit, timeouts, the Unix-socket listener and slots.

#include <sys/stat.h>

#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/http/read.hpp>
#include <thread>

#include "proxy_env.h"
#include "support/files.h"

namespace isol8::proxy::test {
namespace {

namespace asio = boost::asio;

TEST(ProxyLimits, ServesManyConcurrentConnections) {
  auto proxy = start_proxy(ProxyConfig{});
  ASSERT_TRUE(proxy);
  const uint16_t port = port_of(*proxy);
  constexpr int kClients = 64;
  std::atomic<int> good{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < kClients; ++i) {
    threads.emplace_back([&, i] {
      try {
        const auto res = get(port, "http://api.allowed.test/c" + std::to_string(i));
        if (res.body() == "hello GET /c" + std::to_string(i) + " host=api.allowed.test") ++good;
      } catch (const std::exception&) {
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(good.load(), kClients);
}

TEST(ProxyLimits, RefusesConnectionsOverTheLimit) {
  ProxyConfig config;
  config.limits.max_connections = 3;
  auto proxy = start_proxy(config);
  ASSERT_TRUE(proxy);
  std::vector<std::unique_ptr<Client>> open;
  for (int i = 0; i < 3; ++i) {
    open.push_back(std::make_unique<Client>(port_of(*proxy)));
    ASSERT_EQ(open.back()->connect("api.allowed.test:443").result_int(), 200);
  }
  Client extra(port_of(*proxy));
  const auto res = extra.read_response();
  EXPECT_EQ(res.result_int(), 503);
  EXPECT_EQ(res.body(), "isol8: proxy connection limit reached, retry");
  // Ending the open ones frees the slots.
  proxy->close_connections();
  open.clear();
  EXPECT_EQ(get(port_of(*proxy), "http://api.allowed.test/").result_int(), 200);
}

TEST(ProxyLimits, ClosesAClientThatNeverFinishesItsHeader) {
  ProxyConfig config;
  config.limits.header_timeout = std::chrono::milliseconds(200);
  auto proxy = start_proxy(config);
  ASSERT_TRUE(proxy);
  Client slow(port_of(*proxy));
  slow.send("GET http://api.allowed.test/ HTTP/1.1\r\nX-Slow: ");
  EXPECT_TRUE(slow.closed_by_peer());
}

TEST(ProxyLimits, ClosesAnIdleTunnel) {
  ProxyConfig config;
  config.limits.tunnel_idle_timeout = std::chrono::milliseconds(200);
  config.log_network = true;
  auto proxy = start_proxy(config);
  ASSERT_TRUE(proxy);
  Client client(port_of(*proxy));
  ASSERT_EQ(client.connect("api.allowed.test:443").result_int(), 200);
  EXPECT_TRUE(client.closed_by_peer());
  proxy->close_connections();
  const auto logs = proxy->take_logs();
  ASSERT_EQ(logs.size(), 1u);
  EXPECT_GE(logs[0].duration_ms, 200);  // the tunnel's lifetime, not 0 as upstream logs it
}

TEST(ProxyLimits, ListensOnAUnixSocket) {
  const isol8::test::TempDir dir("isol8-proxy-unix");
  ASSERT_FALSE(dir.path().empty());
  const std::string path = dir.file("proxy.sock");
  {
    auto proxy = FilteringProxy::start(ProxyConfig{}, {Listener{"", 0, path}});
    ASSERT_TRUE(proxy.has_value()) << proxy.error().message;
    ASSERT_EQ((*proxy)->bound().at(0).unix_path, path);
    struct stat st {};
    ASSERT_EQ(::stat(path.c_str(), &st), 0);
    EXPECT_TRUE(S_ISSOCK(st.st_mode));
    EXPECT_EQ(st.st_mode & 0777, 0666u);

    asio::io_context io;
    asio::local::stream_protocol::socket socket(io);
    socket.connect(asio::local::stream_protocol::endpoint(path));
    const std::string req = "GET http://api.allowed.test/unix HTTP/1.1\r\nHost: x\r\n\r\n";
    asio::write(socket, asio::buffer(req));
    boost::beast::flat_buffer buffer;
    http::response<http::string_body> res;
    http::read(socket, buffer, res);
    EXPECT_EQ(res.body(), "hello GET /unix host=api.allowed.test");
  }
  struct stat st {};
  EXPECT_NE(::stat(path.c_str(), &st), 0) << "the socket file outlived its proxy";
}

TEST(ProxyLimits, ListenerErrorsNameTheListener) {
  auto bad_address = FilteringProxy::start(ProxyConfig{}, {Listener{"not-an-ip", 0, ""}});
  ASSERT_FALSE(bad_address.has_value());
  EXPECT_NE(bad_address.error().message.find("\"not-an-ip\""), std::string::npos);

  auto first = start_proxy(ProxyConfig{});
  ASSERT_TRUE(first);
  auto taken = FilteringProxy::start(ProxyConfig{}, {Listener{"127.0.0.1", port_of(*first), ""}});
  ASSERT_FALSE(taken.has_value());
  EXPECT_NE(taken.error().message.find(std::to_string(port_of(*first))), std::string::npos)
      << taken.error().message;

  char file[] = "/tmp/isol8-proxy-notsock-XXXXXX";
  const int fd = ::mkstemp(file);
  ASSERT_GE(fd, 0);
  ::close(fd);
  auto not_socket = FilteringProxy::start(ProxyConfig{}, {Listener{"", 0, file}});
  ASSERT_FALSE(not_socket.has_value());
  EXPECT_NE(not_socket.error().message.find("is not a socket"), std::string::npos);
  struct stat st {};
  EXPECT_EQ(::stat(file, &st), 0) << "a file that is not a socket must be left alone";
  ::unlink(file);
}

TEST(ProxyLimits, SlotsHaveTheirOwnFilterAndLog) {
  ProxyConfig first;
  first.filter.whitelist = {R"(^api\.allowed\.test$)"};
  first.log_network = true;
  auto proxy = start_proxy(first);
  ASSERT_TRUE(proxy);
  ProxyConfig second;
  second.filter.whitelist = {R"(^other\.test$)"};
  second.log_network = true;
  auto slot = proxy->add_slot(second, {Listener{"127.0.0.1", 0, ""}});
  ASSERT_TRUE(slot.has_value()) << slot.error().message;
  const uint16_t second_port = proxy->bound(*slot).at(0).tcp_port;
  ASSERT_NE(second_port, port_of(*proxy));

  EXPECT_EQ(get(port_of(*proxy), "http://other.test/").result_int(), 403);
  EXPECT_EQ(get(second_port, "http://other.test/").result_int(), 200);
  EXPECT_EQ(get(second_port, "http://api.allowed.test/").result_int(), 403);
  proxy->close_connections();
  proxy->close_connections(*slot);
  ASSERT_EQ(proxy->take_logs().size(), 1u);
  ASSERT_EQ(proxy->take_logs(*slot).size(), 2u);

  // A slot reused for another sandbox gets that sandbox's filter.
  ProxyConfig third;
  third.filter.whitelist = {R"(^api\.allowed\.test$)"};
  ASSERT_TRUE(proxy->reconfigure(*slot, third).has_value());
  EXPECT_EQ(get(second_port, "http://api.allowed.test/").result_int(), 200);
  EXPECT_FALSE(proxy->reconfigure(*slot, ProxyConfig{{{"("}, {}}, false, {}}).has_value());

  proxy->remove_slot(*slot);
  EXPECT_EQ(get(port_of(*proxy), "http://api.allowed.test/").result_int(), 200);
  EXPECT_THROW(Client gone(second_port), boost::system::system_error);
}

}  // namespace
}  // namespace isol8::proxy::test
