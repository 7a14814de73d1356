// The checks every remote-code URL (the first and each redirect target) passes before anything
// is fetched: libcurl's parse, scheme, host patterns, the hash format, the address ranges of IP
// literals; and the runtime a URL's path names. No network: IP literals only.

#include <gtest/gtest.h>

#include "core/remote_code_source.h"
#include "fetch/address_check.h"
#include "fetch/code_url.h"
#include "fetch/utf8.h"
#include "isol8/config.h"

namespace isol8::fetch {
namespace {

RemoteCodePolicy config_default_policy() {
  auto options = options_from_config(default_config());
  EXPECT_TRUE(options) << options.error().message;
  RemoteCodePolicy policy = options ? options->remote_code : RemoteCodePolicy{};
  policy.enabled = true;
  return policy;
}

std::string check(const std::string& text, bool allow_insecure = false,
                  RemoteCodePolicy policy = config_default_policy()) {
  auto url = parse_code_url(text);
  if (!url) return url.error().message;
  auto rules = UrlPolicy::compile(policy);
  if (!rules) return rules.error().message;
  auto checked = rules->check(*url, allow_insecure);
  return checked ? "ok" : checked.error().message;
}

TEST(FetchCodeUrl, ParsesWithCurlAndLowerCasesSchemeAndHost) {
  auto url = parse_code_url("HTTPS://Example.TEST/Path/Main.py?x=1");
  ASSERT_TRUE(url) << url.error().message;
  EXPECT_EQ(url->scheme, "https");
  EXPECT_EQ(url->host, "example.test");
  EXPECT_EQ(url->port, 443);
  auto v6 = parse_code_url("http://[2001:db8::1]:8080/a.py");
  ASSERT_TRUE(v6) << v6.error().message;
  EXPECT_EQ(v6->host, "[2001:db8::1]");
  EXPECT_EQ(v6->port, 8080);
}

TEST(FetchCodeUrl, RefusesWhatDoesNotParse) {
  EXPECT_EQ(check("not a url"), "Invalid code URL: not a url");
  EXPECT_EQ(check("https://"), "Invalid code URL: https://");
  EXPECT_EQ(check(std::string("https://a.test/\0x", 17)).rfind("Invalid code URL", 0), 0u);
}

TEST(FetchCodeUrl, SchemesInUpstreamsOrder) {
  EXPECT_EQ(check("https://example.test/a.py"), "ok");
  EXPECT_EQ(check("http://example.test/a.py"),
            "Insecure code URL blocked. Use allowInsecureCodeUrl=true to allow HTTP.");
  // The flag alone is not enough: http must be in allowedSchemes too.
  EXPECT_EQ(check("http://example.test/a.py", true), "URL scheme not allowed: http");
  RemoteCodePolicy both = config_default_policy();
  both.allowed_schemes = {"https", "HTTP"};
  EXPECT_EQ(check("http://example.test/a.py", true, both), "ok");
  EXPECT_EQ(check("ftp://example.test/a.py"), "URL scheme not allowed: ftp");
  EXPECT_EQ(check("file:///etc/passwd"), "URL scheme not allowed: file");
  // Listing a scheme libcurl is never asked to speak does not make it fetchable.
  RemoteCodePolicy ftp = config_default_policy();
  ftp.allowed_schemes = {"ftp"};
  EXPECT_EQ(check("ftp://example.test/a.py", false, ftp), "URL scheme not allowed: ftp");
}

TEST(FetchCodeUrl, ConfigDefaultBlockListAsUpstream) {
  for (const char* host :
       {"localhost", "127.0.0.1", "127.1.2.3", "10.0.0.1", "172.16.0.1", "172.31.255.255",
        "192.168.1.1", "169.254.169.254", "[::1]", "metadata.google.internal", "LOCALHOST"}) {
    const std::string url = std::string("https://") + host + "/a.py";
    EXPECT_EQ(check(url).rfind("Blocked code URL host: ", 0), 0u) << url << ": " << check(url);
  }
  EXPECT_EQ(check("https://172.32.0.1/a.py"), "ok");
  EXPECT_EQ(check("https://203.0.113.2/a.py"), "ok");  // TEST-NET-3: the tests' public hosts
}

TEST(FetchCodeUrl, AllowedHostsWhenGiven) {
  RemoteCodePolicy policy = config_default_policy();
  policy.allowed_hosts = {"^raw\\.githubusercontent\\.com$"};
  EXPECT_EQ(check("https://raw.githubusercontent.com/o/r/main/a.py", false, policy), "ok");
  EXPECT_EQ(check("https://evil.test/a.py", false, policy), "Blocked code URL host: evil.test");
  policy.blocked_hosts = {"githubusercontent"};  // a block beats an allow
  EXPECT_EQ(check("https://raw.githubusercontent.com/a.py", false, policy),
            "Blocked code URL host: raw.githubusercontent.com");
  policy.blocked_hosts = {"(?=x)"};
  EXPECT_NE(check("https://a.test/a.py", false, policy).find("remoteCode.blockedHosts"),
            std::string::npos);
}

TEST(FetchCodeUrl, HashIs64HexDigits) {
  const std::string hex(64, 'A');
  auto bytes = parse_code_hash(hex);
  ASSERT_TRUE(bytes);
  EXPECT_EQ(*bytes, std::string(32, '\xaa'));
  EXPECT_FALSE(parse_code_hash(std::string(63, 'a')));
  EXPECT_FALSE(parse_code_hash(std::string(64, 'g')));
  EXPECT_FALSE(parse_code_hash(""));
}

TEST(FetchAddressCheck, LiteralsAndTheirRanges) {
  auto refused = [](const std::string& host) -> std::string {
    auto a = literal_address(host);
    if (!a) return "not a literal";
    auto why = refused_address(*a);
    return why ? *why : "allowed";
  };
  EXPECT_EQ(refused("example.test"), "not a literal");
  EXPECT_EQ(refused("127.0.0.1"), "a loopback address");
  EXPECT_EQ(refused("0.0.0.0"), "the unspecified address");
  EXPECT_EQ(refused("169.254.169.254"), "the cloud metadata address");
  EXPECT_EQ(refused("10.1.2.3"), "a private address");
  EXPECT_EQ(refused("100.64.0.1"), "a carrier-grade NAT address");
  EXPECT_EQ(refused("[::1]"), "a loopback address");
  EXPECT_EQ(refused("[fd00::1]"), "a unique local address");
  EXPECT_EQ(refused("[fe80::1]"), "a link-local address");
  EXPECT_NE(refused("[::ffff:127.0.0.1]").find("IPv4-mapped"), std::string::npos);
  EXPECT_NE(refused("[::ffff:169.254.169.254]").find("metadata"), std::string::npos);
  EXPECT_EQ(refused("203.0.113.2"), "allowed");
  EXPECT_EQ(refused("198.51.100.7"), "allowed");
  EXPECT_EQ(refused("[2001:db8::1]"), "allowed");
}

TEST(FetchAddressCheck, ResolveCheckedRefusesALiteralInARefusedRange) {
  auto url = parse_code_url("https://[::ffff:127.0.0.1]/a.py");
  ASSERT_TRUE(url) << url.error().message;
  auto addresses = resolve_checked(*url, std::chrono::seconds(1));
  ASSERT_FALSE(addresses);
  EXPECT_EQ(addresses.error().message.rfind("Blocked code URL host: [::ffff:127.0.0.1] (", 0), 0u)
      << addresses.error().message;
  auto ok = parse_code_url("https://203.0.113.9/a.py");
  ASSERT_TRUE(ok);
  auto public_one = resolve_checked(*ok, std::chrono::seconds(1));
  ASSERT_TRUE(public_one) << public_one.error().message;
  EXPECT_EQ(public_one->size(), 1u);
}

TEST(FetchUtf8, StrictDecoding) {
  EXPECT_TRUE(is_strict_utf8("print('héllo ✓ 🎉')"));
  EXPECT_TRUE(is_strict_utf8(""));
  EXPECT_FALSE(is_strict_utf8("\xc0\xaf"));          // overlong '/'
  EXPECT_FALSE(is_strict_utf8("\xe0\x80\xaf"));      // overlong
  EXPECT_FALSE(is_strict_utf8("\xed\xa0\x80"));      // surrogate
  EXPECT_FALSE(is_strict_utf8("\xf4\x90\x80\x80"));  // above U+10FFFF
  EXPECT_FALSE(is_strict_utf8("\xe2\x9c"));          // truncated
  EXPECT_FALSE(is_strict_utf8("\x80"));              // lone continuation
  EXPECT_FALSE(is_strict_utf8("\xff"));
}

TEST(RemoteCodeSource, RuntimeFromTheUrlPath) {
  EXPECT_EQ(runtime_from_url_path("https://a.test/x/main.py"), "python");
  EXPECT_EQ(runtime_from_url_path("https://a.test/x/main.mjs?token=1.sh#frag"), "node");
  EXPECT_EQ(runtime_from_url_path("https://a.test/run.sh"), "bash");
  EXPECT_EQ(runtime_from_url_path("https://a.test/x.ts"), "bun");
  EXPECT_EQ(runtime_from_url_path("https://a.test/"), std::nullopt);
  EXPECT_EQ(runtime_from_url_path("https://a.test"), std::nullopt);
  EXPECT_EQ(runtime_from_url_path("https://a.py/readme"), std::nullopt);
}

TEST(RemoteCodeSource, RefusedBeforeAnyFetch) {
  RemoteCodePolicy policy;  // disabled
  ExecutionRequest both;
  both.code = "print(1)";
  both.code_url = "https://a.test/a.py";
  auto r = with_remote_code(both, config_default_policy());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message,
            "ExecutionRequest.code, ExecutionRequest.codeUrl, and ExecutionRequest.cmd are "
            "mutually exclusive — provide exactly one.");
  ExecutionRequest url_only;
  url_only.code_url = "https://a.test/a.py";
  auto disabled = with_remote_code(url_only, policy);
  ASSERT_FALSE(disabled);
  EXPECT_EQ(disabled.error().message,
            "Remote code fetching is disabled. Set remoteCode.enabled=true to allow it.");
  RemoteCodePolicy need_hash = config_default_policy();
  need_hash.require_hash = true;
  url_only.code_url = "https://203.0.113.9/a.py";
  auto no_hash = with_remote_code(url_only, need_hash);
  ASSERT_FALSE(no_hash);
  EXPECT_EQ(no_hash.error().message,
            "Hash verification required: provide codeHash for remote code execution.");
}

}  // namespace
}  // namespace isol8::fetch
