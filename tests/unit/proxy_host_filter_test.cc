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
  // What JavaScript patterns commonly use reads the same in RE2.
  const HostFilter g = make({R"(^[a-z0-9-]{1,63}\.example\.com$)", R"(^\d{1,3}(\.\d{1,3}){3}$)",
                             R"(\bcdn\b)", R"(^api\/?\-?x\.test$)"},
                            {});
  EXPECT_TRUE(g.allows("www.example.com"));
  EXPECT_TRUE(g.allows("10.1.2.3"));
  EXPECT_TRUE(g.allows("my.cdn.test"));
  EXPECT_TRUE(g.allows("api-x.test"));
  EXPECT_FALSE(g.allows("a.b.example.com"));
  EXPECT_FALSE(g.allows("mycdn.test"));
  // $ is the end of the name, not the end of a line before a trailing newline.
  EXPECT_FALSE(make({"^x$"}, {}).allows("x\n"));
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

// The host name is the sandboxed program's: a pattern that makes a backtracking engine take
// exponential time must still answer, and answer right. `^(a|aa)*$` with a 42-character name
// held std::regex for over 90 s; the timing itself is measured in bench/host_filter_bench.cc.
TEST(ProxyHostFilter, NestedAlternationMatchesLongNamesCorrectly) {
  const HostFilter f = make({"^(a|aa)*$"}, {});
  for (const size_t length : {size_t{5}, size_t{34}, size_t{42}, size_t{253}, size_t{5000}}) {
    const std::string name(length, 'a');
    EXPECT_TRUE(f.allows(name)) << length;
    EXPECT_FALSE(f.allows(name + ".test")) << length;
    EXPECT_FALSE(f.allows(name + "b")) << length;
    EXPECT_FALSE(f.allows("b" + name)) << length;
  }
  const HostFilter deny = make({}, {"^(a+)+$"});
  EXPECT_TRUE(deny.allows(std::string(5000, 'a') + "-"));
  EXPECT_FALSE(deny.allows(std::string(5000, 'a')));
}

TEST(ProxyHostFilter, RefusesWhatRe2CannotMatchNamingThePattern) {
  // Lookaround and backreferences: valid JavaScript, no linear-time equivalent.
  for (const std::string pattern : {"^(?!evil).*$", "(?<=x)y", R"(^(a)\1$)"}) {
    auto f = HostFilter::compile(NetworkFilter{{pattern}, {}});
    ASSERT_FALSE(f.has_value()) << pattern;
    EXPECT_NE(f.error().message.find("Invalid network allow pattern \"" + pattern + "\": "),
              std::string::npos)
        << f.error().message;
    EXPECT_NE(f.error().message.find("RE2"), std::string::npos) << f.error().message;
  }
}

TEST(ProxyHostFilter, CheckNamesWhereThePatternCameFrom) {
  EXPECT_TRUE(HostFilter::check({R"(^api\.allowed\.test$)", "^(a|aa)*$"}, "--allow").has_value());
  auto bad = HostFilter::check({"ok", "(?=lookahead)"}, "--deny");
  ASSERT_FALSE(bad.has_value());
  EXPECT_EQ(bad.error().message.rfind("Invalid --deny pattern \"(?=lookahead)\": ", 0), 0u)
      << bad.error().message;
  EXPECT_NE(bad.error().message.find(std::string(kHostPatternSyntaxHint)), std::string::npos)
      << bad.error().message;
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
