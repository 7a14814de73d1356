// The proxy's own address policy, end to end: names that resolve to the host's private networks
// are refused whatever the filter says; only an exact allow of an address literal opens it.

#include <gtest/gtest.h>

#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>

#include "proxy_env.h"

namespace isol8::proxy::test {
namespace {

ProxyConfig allow(std::vector<std::string> whitelist) {
  ProxyConfig config;
  config.filter.whitelist = std::move(whitelist);
  config.log_network = true;
  return config;
}

std::string refusal(uint16_t port, const std::string& target) {
  Client client(port);
  const auto answer = client.connect(target);
  EXPECT_EQ(answer.result_int(), 403) << target;
  return answer.body();
}

TEST(ProxyAddress, RefusesNamesOfPrivateAndMetadataAddresses) {
  auto proxy = start_proxy(allow({}));
  ASSERT_TRUE(proxy);
  const uint16_t port = port_of(*proxy);
  EXPECT_EQ(refusal(port, "private.test:443"),
            "isol8: CONNECT to private.test blocked: 10.1.2.3 is a private address");
  EXPECT_EQ(refusal(port, "meta.test:80"),
            "isol8: CONNECT to meta.test blocked: 169.254.169.254 is the cloud metadata address");
  const auto res = get(port, "http://meta.test/latest/meta-data/");
  EXPECT_EQ(res.result_int(), 403);
  EXPECT_EQ(res.body(),
            "isol8: request to meta.test blocked: 169.254.169.254 is the cloud metadata address");
}

TEST(ProxyAddress, RefusesLoopbackNamesEvenWhenTheFilterAllowsThem) {
  auto proxy = start_proxy(allow({R"(^loop\.test$)", R"(^mapped\.test$)", "localhost"}));
  ASSERT_TRUE(proxy);
  const uint16_t port = port_of(*proxy);
  EXPECT_EQ(refusal(port, "loop.test:9000"),
            "isol8: CONNECT to loop.test blocked: 127.0.0.1 is a loopback address");
  EXPECT_NE(refusal(port, "mapped.test:9000").find("127.0.0.1"), std::string::npos);
  EXPECT_NE(refusal(port, "localhost:9000").find("loopback"), std::string::npos);
}

TEST(ProxyAddress, RefusesLoopbackLiteralsInAnySpelling) {
  auto proxy = start_proxy(allow({".*"}));
  ASSERT_TRUE(proxy);
  const uint16_t port = port_of(*proxy);
  EXPECT_EQ(refusal(port, "127.0.0.1:9000"),
            "isol8: CONNECT to 127.0.0.1 blocked: 127.0.0.1 is a loopback address");
  EXPECT_NE(refusal(port, "[::1]:9000").find("::1 is a loopback address"), std::string::npos);
  EXPECT_NE(refusal(port, "[::ffff:127.0.0.1]:9000").find("127.0.0.1 is a loopback address"),
            std::string::npos);
  EXPECT_NE(refusal(port, "0.0.0.0:9000").find("unspecified"), std::string::npos);
  // inet_aton spellings reach the resolver, which turns them into 127.0.0.1.
  EXPECT_NE(refusal(port, "2130706433:9000").find("127.0.0.1 is a loopback"), std::string::npos);
  EXPECT_NE(refusal(port, "127.1:9000").find("loopback"), std::string::npos);
}

TEST(ProxyAddress, AnExactLiteralAllowOpensThatAddress) {
  auto proxy = start_proxy(allow({R"(^127\.0\.0\.1$)"}));
  ASSERT_TRUE(proxy);
  Client client(port_of(*proxy));
  ASSERT_EQ(client.connect("127.0.0.1:9000").result_int(), 200);
  client.send("ping through the tunnel");
  std::string echoed(23, '\0');
  boost::asio::read(client.socket, boost::asio::buffer(echoed));
  EXPECT_EQ(echoed, "ping through the tunnel");
  // The name of the same address is still refused: only the literal was allowed.
  EXPECT_EQ(refusal(port_of(*proxy), "loop.test:9000"),
            "isol8: CONNECT to loop.test blocked by network filter");
}

TEST(ProxyAddress, RefusalsAreLoggedAsBlocked) {
  auto proxy = start_proxy(allow({}));
  ASSERT_TRUE(proxy);
  refusal(port_of(*proxy), "private.test:443");
  proxy->close_connections();
  const auto logs = proxy->take_logs();
  ASSERT_EQ(logs.size(), 1u);
  EXPECT_EQ(logs[0].host, "private.test");
  EXPECT_EQ(logs[0].action, "BLOCK");
}

TEST(ProxyAddress, InvalidPatternFailsStartNamingIt) {
  ProxyConfig config;
  config.filter.blacklist = {"ok", "(unclosed"};
  auto proxy = FilteringProxy::start(config, {Listener{"127.0.0.1", 0, ""}});
  ASSERT_FALSE(proxy.has_value());
  EXPECT_NE(proxy.error().message.find("(unclosed"), std::string::npos) << proxy.error().message;
}

}  // namespace
}  // namespace isol8::proxy::test
