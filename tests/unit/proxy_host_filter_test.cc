#include "proxy/host_filter.h"

#include <gtest/gtest.h>

namespace isol8::proxy {
namespace {

HostFilter make(std::vector<std::string> allow, std::vector<std::string> deny) {
  auto f = HostFilter::compile(NetworkFilter{std::move(allow), std::move(deny)});
  EXPECT_TRUE(f.has_value()) << f.error().message;
  return std::move(*f);
}

TEST(ProxyHostFilter, EmptyWhitelistAllowsAllButBlacklisted) {
  const HostFilter f = make({}, {R"(^blocked\.test$)"});
  EXPECT_TRUE(f.allows("api.allowed.test"));
  EXPECT_TRUE(f.allows("anything.example"));
  EXPECT_FALSE(f.allows("blocked.test"));
  EXPECT_TRUE(make({}, {}).allows("x.test"));
}

TEST(ProxyHostFilter, WhitelistMustMatch) {
  const HostFilter f = make({R"(^api\.allowed\.test$)"}, {});
  EXPECT_TRUE(f.allows("api.allowed.test"));
  EXPECT_FALSE(f.allows("other.test"));
  EXPECT_FALSE(f.allows("api.allowed.test.evil"));
}

TEST(ProxyHostFilter, BlacklistBeatsWhitelist) {
  const HostFilter f = make({R"(\.test$)"}, {R"(^blocked\.test$)"});
  EXPECT_TRUE(f.allows("api.allowed.test"));
  EXPECT_FALSE(f.allows("blocked.test"));
}

TEST(ProxyHostFilter, UnanchoredPatternsSearch) {
  const HostFilter f = make({"allowed"}, {});
  EXPECT_TRUE(f.allows("api.allowed.test"));
  EXPECT_TRUE(f.allows("notallowed.example"));
  EXPECT_FALSE(f.allows("other.test"));
}

TEST(ProxyHostFilter, CaseInsensitive) {
  const HostFilter f = make({"^API\\.Allowed\\.TEST$"}, {"BLOCKED"});
  EXPECT_TRUE(f.allows("api.allowed.test"));
  EXPECT_FALSE(make({}, {"BLOCKED"}).allows("blocked.test"));
}

TEST(ProxyHostFilter, EcmaScriptSyntax) {
  const HostFilter f = make({R"(^\w+\.(?:allowed|ok)\.test$)"}, {});
  EXPECT_TRUE(f.allows("api.ok.test"));
  EXPECT_FALSE(f.allows("a.b.ok.test"));
}

TEST(ProxyHostFilter, InvalidPatternIsAnErrorNamingIt) {
  auto f = HostFilter::compile(NetworkFilter{{"good", "(unclosed"}, {}});
  ASSERT_FALSE(f.has_value());
  EXPECT_NE(f.error().message.find("\"(unclosed\""), std::string::npos) << f.error().message;
  EXPECT_NE(f.error().message.find("allow"), std::string::npos) << f.error().message;
  auto g = HostFilter::compile(NetworkFilter{{}, {"[z-a]"}});
  ASSERT_FALSE(g.has_value());
  EXPECT_NE(g.error().message.find("deny pattern \"[z-a]\""), std::string::npos);
}

TEST(ProxyHostFilter, OnlyAnExactAllowNamesAnAddress) {
  const HostFilter f = make({R"(^127\.0\.0\.1$)", "^::1$", "^fe80::1$"}, {});
  EXPECT_TRUE(f.names_address_literally("127.0.0.1"));
  EXPECT_TRUE(f.names_address_literally("::1"));
  EXPECT_TRUE(f.names_address_literally("fe80::1"));
  EXPECT_FALSE(f.names_address_literally("127.0.0.2"));
  EXPECT_FALSE(f.names_address_literally("localhost"));
  // Broad patterns match the address but do not name it.
  EXPECT_FALSE(make({".*"}, {}).names_address_literally("127.0.0.1"));
  EXPECT_FALSE(make({R"(^127\.)"}, {}).names_address_literally("127.0.0.1"));
  EXPECT_FALSE(make({}, {}).names_address_literally("127.0.0.1"));
  // Unescaped dots spell the address too, and they do match it.
  EXPECT_TRUE(make({"^10.1.2.3$"}, {}).names_address_literally("10.1.2.3"));
}

}  // namespace
}  // namespace isol8::proxy
