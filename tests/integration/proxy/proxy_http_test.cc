// Plain HTTP through the proxy: forwarding in origin form, keep-alive, chunked bodies, the filter's
// answers, upstream failures, malformed requests and the log.

#include <gtest/gtest.h>

#include "proxy_env.h"

namespace isol8::proxy::test {
namespace {

ProxyConfig allow(std::vector<std::string> whitelist, std::vector<std::string> blacklist = {}) {
  ProxyConfig config;
  config.filter.whitelist = std::move(whitelist);
  config.filter.blacklist = std::move(blacklist);
  config.log_network = true;
  return config;
}

http::request<http::string_body> request(http::verb verb, const std::string& url) {
  http::request<http::string_body> req{verb, url, 11};
  req.set(http::field::host, "wrong.example");
  return req;
}

TEST(ProxyHttp, ForwardsAnAllowedHostInOriginForm) {
  auto proxy = start_proxy(allow({R"(^api\.allowed\.test$)"}));
  ASSERT_TRUE(proxy);
  const auto res = get(port_of(*proxy), "http://api.allowed.test/hello?x=1");
  EXPECT_EQ(res.result_int(), 200);
  EXPECT_EQ(res.body(), "hello GET /hello?x=1 host=api.allowed.test");
}

TEST(ProxyHttp, KeepsTheClientConnectionAliveAcrossRequests) {
  auto proxy = start_proxy(allow({}));
  ASSERT_TRUE(proxy);
  Client client(port_of(*proxy));
  auto first = request(http::verb::get, "http://api.allowed.test/one");
  auto second = request(http::verb::get, "http://other.test/two");
  const auto r1 = client.roundtrip(first);
  EXPECT_EQ(r1.body(), "hello GET /one host=api.allowed.test");
  EXPECT_TRUE(r1.keep_alive());
  const auto r2 = client.roundtrip(second);
  EXPECT_EQ(r2.body(), "hello GET /two host=other.test");
}

TEST(ProxyHttp, StreamsChunkedUploadsAndChunkedResponses) {
  auto proxy = start_proxy(allow({}));
  ASSERT_TRUE(proxy);
  Client client(port_of(*proxy));
  auto req = request(http::verb::post, "http://api.allowed.test/echo");
  std::string body;
  for (int i = 0; body.size() < 200000; ++i) body += std::to_string(i) + ",";
  req.body() = body;
  req.chunked(true);
  const auto res = client.roundtrip(req);
  EXPECT_EQ(res.result_int(), 200);
  EXPECT_TRUE(res.chunked());
  EXPECT_EQ(res.body(), body);
  // The connection is still usable afterwards.
  auto again = request(http::verb::get, "http://api.allowed.test/after");
  EXPECT_EQ(client.roundtrip(again).body(), "hello GET /after host=api.allowed.test");
}

TEST(ProxyHttp, RelaysContentLengthBodiesBothWays) {
  auto proxy = start_proxy(allow({}));
  ASSERT_TRUE(proxy);
  Client client(port_of(*proxy));
  auto req = request(http::verb::put, "http://api.allowed.test/echo");
  req.body() = std::string(70000, 'b');
  req.prepare_payload();
  const auto res = client.roundtrip(req);
  EXPECT_EQ(res.body(), std::string(70000, 'b'));
  auto big = request(http::verb::get, "http://api.allowed.test/big");
  EXPECT_EQ(client.roundtrip(big).body(), std::string(300000, 'x'));
  auto head = request(http::verb::head, "http://api.allowed.test/big");
  const auto head_res = client.roundtrip(head);
  EXPECT_EQ(head_res.result_int(), 200);
  EXPECT_EQ(head_res[http::field::content_length], "300000");
}

TEST(ProxyHttp, AnswersExpectContinueItself) {
  auto proxy = start_proxy(allow({}));
  ASSERT_TRUE(proxy);
  Client client(port_of(*proxy));
  client.send(
      "POST http://api.allowed.test/echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
      "Expect: 100-continue\r\n\r\n");
  EXPECT_EQ(client.read_response(true).result_int(), 100);
  client.send("hello");
  const auto res = client.read_response();
  EXPECT_EQ(res.result_int(), 200);
  EXPECT_EQ(res.body(), "hello");
}

TEST(ProxyHttp, PassesACloseDelimitedBodyAndThenCloses) {
  auto proxy = start_proxy(allow({}));
  ASSERT_TRUE(proxy);
  Client client(port_of(*proxy));
  auto req = request(http::verb::get, "http://api.allowed.test/close");
  const auto res = client.roundtrip(req);
  EXPECT_EQ(res.body(), "until the end of the connection");
  EXPECT_FALSE(res.keep_alive());
}

TEST(ProxyHttp, StripsProxyHeadersAndSetsHostFromTheUri) {
  auto proxy = start_proxy(allow({}));
  ASSERT_TRUE(proxy);
  Client client(port_of(*proxy));
  auto req = request(http::verb::get, "http://api.allowed.test:80/headers");
  req.set(http::field::proxy_authorization, "Basic c2VjcmV0");
  req.set("Proxy-Connection", "keep-alive");
  req.set("X-Kept", "yes");
  req.set(http::field::connection, "X-Hop");
  req.set("X-Hop", "dropped");
  const auto res = client.roundtrip(req);
  EXPECT_EQ(res.result_int(), 200);
  EXPECT_EQ(res.body().find("Proxy-"), std::string::npos) << res.body();
  EXPECT_EQ(res.body().find("X-Hop"), std::string::npos) << res.body();
  EXPECT_NE(res.body().find("Host: api.allowed.test\n"), std::string::npos) << res.body();
  EXPECT_NE(res.body().find("X-Kept: yes"), std::string::npos) << res.body();
}

TEST(ProxyHttp, DeniedHostGetsExact403) {
  auto proxy = start_proxy(allow({}, {R"(^blocked\.test$)"}));
  ASSERT_TRUE(proxy);
  const auto res = get(port_of(*proxy), "http://blocked.test/x");
  EXPECT_EQ(res.result_int(), 403);
  EXPECT_EQ(res.body(), "isol8: request to blocked.test blocked by network filter");
}

TEST(ProxyHttp, DenyBeatsAllow) {
  auto proxy = start_proxy(allow({R"(\.test$)"}, {R"(^blocked\.)"}));
  ASSERT_TRUE(proxy);
  EXPECT_EQ(get(port_of(*proxy), "http://BLOCKED.test/").result_int(), 403);
  EXPECT_EQ(get(port_of(*proxy), "http://api.allowed.test/").result_int(), 200);
}

TEST(ProxyHttp, WhitelistLimitsHosts) {
  auto proxy = start_proxy(allow({R"(^api\.allowed\.test$)"}));
  ASSERT_TRUE(proxy);
  const auto res = get(port_of(*proxy), "http://other.test/");
  EXPECT_EQ(res.result_int(), 403);
  EXPECT_EQ(res.body(), "isol8: request to other.test blocked by network filter");
}

TEST(ProxyHttp, EmptyWhitelistAllowsEveryPublicHost) {
  auto proxy = start_proxy(allow({}));
  ASSERT_TRUE(proxy);
  EXPECT_EQ(get(port_of(*proxy), "http://other.test/").body(), "hello GET / host=other.test");
  EXPECT_EQ(get(port_of(*proxy), "http://203.0.113.10/").body(), "hello GET / host=203.0.113.10");
}

TEST(ProxyHttp, RefusedUpstreamIs502) {
  auto proxy = start_proxy(allow({}));
  ASSERT_TRUE(proxy);
  const auto res = get(port_of(*proxy), "http://second.test:81/");
  EXPECT_EQ(res.result_int(), 502);
  EXPECT_EQ(res.body(), "isol8: proxy error: connection to second.test:81 failed");
}

TEST(ProxyHttp, MalformedRequestsAre400) {
  auto proxy = start_proxy(allow({}));
  ASSERT_TRUE(proxy);
  for (const std::string& raw : {
           std::string("GET /relative HTTP/1.1\r\nHost: api.allowed.test\r\n\r\n"),
           std::string("GET https://api.allowed.test/ HTTP/1.1\r\nHost: x\r\n\r\n"),
           std::string("NOT HTTP AT ALL\r\n\r\n"),
           std::string("GET http://bad host/ HTTP/1.1\r\n\r\n"),
           std::string("CONNECT api.allowed.test:0 HTTP/1.1\r\n\r\n"),
           "GET http://api.allowed.test/ HTTP/1.1\r\nX-Big: " + std::string(20000, 'a') +
               "\r\n\r\n",
       }) {
    Client client(port_of(*proxy));
    client.send(raw);
    const auto res = client.read_response();
    EXPECT_EQ(res.result_int(), 400) << raw.substr(0, 60);
    EXPECT_EQ(res.body().rfind("isol8: malformed request: ", 0), 0u) << res.body();
  }
}

TEST(ProxyHttp, LogsEveryRequest) {
  auto proxy = start_proxy(allow({}, {R"(^blocked\.test$)"}));
  ASSERT_TRUE(proxy);
  EXPECT_EQ(get(port_of(*proxy), "http://api.allowed.test/hello").result_int(), 200);
  EXPECT_EQ(get(port_of(*proxy), "http://blocked.test:8080/no").result_int(), 403);
  proxy->close_connections();
  const auto logs = proxy->take_logs();
  ASSERT_EQ(logs.size(), 2u);
  EXPECT_EQ(logs[0].method, "GET");
  EXPECT_EQ(logs[0].host, "api.allowed.test");
  EXPECT_EQ(logs[0].port, 80);
  EXPECT_EQ(logs[0].path, "/hello");
  EXPECT_EQ(logs[0].action, "ALLOW");
  EXPECT_GT(logs[0].bytes, 0u);
  EXPECT_GE(logs[0].duration_ms, 0);
  EXPECT_EQ(logs[0].timestamp.size(), 24u);
  EXPECT_EQ(logs[0].timestamp.back(), 'Z');
  EXPECT_EQ(logs[1].method, "GET");
  EXPECT_EQ(logs[1].host, "blocked.test");
  EXPECT_EQ(logs[1].port, 8080);
  EXPECT_EQ(logs[1].path, "/no");
  EXPECT_EQ(logs[1].action, "BLOCK");
  EXPECT_EQ(logs[1].bytes, 0u);
  EXPECT_TRUE(proxy->take_logs().empty());
}

TEST(ProxyHttp, NoLogsUnlessAskedFor) {
  ProxyConfig config;
  auto proxy = start_proxy(config);
  ASSERT_TRUE(proxy);
  EXPECT_EQ(get(port_of(*proxy), "http://api.allowed.test/").result_int(), 200);
  proxy->close_connections();
  EXPECT_TRUE(proxy->take_logs().empty());
}

}  // namespace
}  // namespace isol8::proxy::test
