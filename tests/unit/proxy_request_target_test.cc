#include "proxy/request_target.h"

#include <gtest/gtest.h>

namespace isol8::proxy {
namespace {

TEST(ProxyRequestTarget, ConnectAuthority) {
  auto t = parse_connect_target("api.allowed.test:8443");
  ASSERT_TRUE(t.has_value()) << t.error().message;
  EXPECT_EQ(t->host, "api.allowed.test");
  EXPECT_EQ(t->port, 8443);
  EXPECT_FALSE(t->ip_literal);
  EXPECT_EQ(t->path, "");
}

TEST(ProxyRequestTarget, ConnectDefaultsToPort443) {
  auto t = parse_connect_target("example.test");
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(t->port, 443);
}

TEST(ProxyRequestTarget, NormalisesCaseAndTrailingDot) {
  auto t = parse_connect_target("API.Allowed.TEST.:443");
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(t->host, "api.allowed.test");
}

TEST(ProxyRequestTarget, IpLiterals) {
  auto v4 = parse_connect_target("127.0.0.1:22");
  ASSERT_TRUE(v4.has_value());
  EXPECT_TRUE(v4->ip_literal);
  EXPECT_EQ(v4->host, "127.0.0.1");
  auto v6 = parse_connect_target("[::FFFF:7f00:1]:443");
  ASSERT_TRUE(v6.has_value());
  EXPECT_TRUE(v6->ip_literal);
  EXPECT_EQ(v6->host, "::ffff:127.0.0.1");
  EXPECT_EQ(v6->authority(), "[::ffff:127.0.0.1]:443");
  auto http6 = parse_absolute_target("http://[2001:db8::1]/x");
  ASSERT_TRUE(http6.has_value());
  EXPECT_EQ(http6->host, "2001:db8::1");
  EXPECT_EQ(http6->port, 80);
}

TEST(ProxyRequestTarget, RejectsMalformedConnectTargets) {
  for (const char* bad :
       {"", ":443", "host:", "host:0", "host:65536", "host:12ab", "host/x:443", "user@host:443",
        "[::1:443", "[::1]x", "[zz::1]:443", "::1:443", "ho st:443", "host%00:443"}) {
    EXPECT_FALSE(parse_connect_target(bad).has_value()) << bad;
  }
  EXPECT_FALSE(parse_connect_target(std::string(300, 'a') + ":443").has_value());
}

TEST(ProxyRequestTarget, AbsoluteUri) {
  auto t = parse_absolute_target("http://API.allowed.test:8080/a/b?c=d#frag");
  ASSERT_TRUE(t.has_value()) << t.error().message;
  EXPECT_EQ(t->host, "api.allowed.test");
  EXPECT_EQ(t->port, 8080);
  EXPECT_EQ(t->path, "/a/b?c=d");
  auto root = parse_absolute_target("HTTP://example.test");
  ASSERT_TRUE(root.has_value());
  EXPECT_EQ(root->port, 80);
  EXPECT_EQ(root->path, "/");
  auto query = parse_absolute_target("http://example.test?x=1");
  ASSERT_TRUE(query.has_value());
  EXPECT_EQ(query->path, "/?x=1");
}

TEST(ProxyRequestTarget, RejectsNonAbsoluteOrOddUris) {
  for (const char* bad :
       {"/path", "*", "https://example.test/", "ftp://example.test/", "http://", "http:///path",
        "http://user:pw@example.test/", "http://exa mple.test/", "http://example.test:99999/"}) {
    EXPECT_FALSE(parse_absolute_target(bad).has_value()) << bad;
  }
}

}  // namespace
}  // namespace isol8::proxy
