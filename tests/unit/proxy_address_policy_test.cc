#include "proxy/address_policy.h"

#include <gtest/gtest.h>

#include <string>

namespace isol8::proxy {
namespace {

std::optional<std::string> reason(const std::string& text) {
  return refused_reason(boost::asio::ip::make_address(text));
}

TEST(ProxyAddressPolicy, RefusesEveryNonPublicIpv4Range) {
  for (const char* a : {"127.0.0.1",       "127.255.255.254", "10.0.0.1",    "10.255.255.255",
                        "172.16.0.1",      "172.31.255.255",  "192.168.0.1", "192.168.255.255",
                        "169.254.0.1",     "169.254.169.254", "100.64.0.1",  "100.127.255.255",
                        "224.0.0.1",       "239.255.255.250", "0.0.0.0",     "0.1.2.3",
                        "255.255.255.255", "240.0.0.1",       "192.0.0.8",   "198.18.0.1",
                        "198.19.255.255"}) {
    EXPECT_TRUE(reason(a).has_value()) << a;
  }
}

TEST(ProxyAddressPolicy, AllowsPublicAndDocumentationIpv4) {
  for (const char* a :
       {"1.1.1.1", "8.8.8.8", "93.184.216.34", "172.15.255.255", "172.32.0.0", "192.169.0.1",
        "100.63.255.255", "100.128.0.0", "169.253.255.255", "203.0.113.10", "198.51.100.7",
        "192.0.2.1", "223.255.255.255", "11.0.0.0", "126.255.255.255", "128.0.0.1", "198.20.0.0"}) {
    EXPECT_FALSE(reason(a).has_value()) << a << ": " << reason(a).value_or("");
  }
}

TEST(ProxyAddressPolicy, ReasonsNameTheRange) {
  EXPECT_EQ(reason("127.0.0.1"), "a loopback address");
  EXPECT_EQ(reason("10.1.2.3"), "a private address");
  EXPECT_EQ(reason("169.254.169.254"), "the cloud metadata address");
  EXPECT_EQ(reason("169.254.1.1"), "a link-local address");
  EXPECT_EQ(reason("100.64.1.1"), "a carrier-grade NAT address");
  EXPECT_EQ(reason("::1"), "a loopback address");
  EXPECT_EQ(reason("::ffff:127.0.0.1"), "an IPv4-mapped form of 127.0.0.1, a loopback address");
}

TEST(ProxyAddressPolicy, RefusesNonPublicIpv6) {
  for (const char* a : {"::", "::1", "fe80::1", "febf::1", "fc00::1", "fd12:3456::1", "ff02::1",
                        "ff05::2", "fec0::1", "100::1", "64:ff9b:1::a00:1"}) {
    EXPECT_TRUE(reason(a).has_value()) << a;
  }
}

TEST(ProxyAddressPolicy, RefusesIpv6FormsEmbeddingRefusedIpv4) {
  for (const char* a :
       {"::ffff:127.0.0.1", "::ffff:10.1.2.3", "::ffff:169.254.169.254", "::ffff:192.168.1.1",
        "::ffff:0.0.0.0", "::127.0.0.1", "::10.0.0.1", "::ffff:0:127.0.0.1", "64:ff9b::7f00:1",
        "64:ff9b::a9fe:a9fe", "64:ff9b::10.0.0.1", "2002:7f00:1::", "2002:a9fe:a9fe::1"}) {
    EXPECT_TRUE(reason(a).has_value()) << a;
  }
}

TEST(ProxyAddressPolicy, AllowsPublicIpv6AndEmbeddedPublicIpv4) {
  for (const char* a : {"2606:4700::1111", "2001:4860:4860::8888", "2001:db8::1", "::ffff:8.8.8.8",
                        "64:ff9b::808:808", "2002:808:808::1", "fe7f::1", "fbff::1"}) {
    EXPECT_FALSE(reason(a).has_value()) << a << ": " << reason(a).value_or("");
  }
}

TEST(ProxyAddressPolicy, CanonicalAddressUnmapsIpv4) {
  EXPECT_EQ(canonical_address(boost::asio::ip::make_address("::ffff:203.0.113.10")).to_string(),
            "203.0.113.10");
  EXPECT_EQ(canonical_address(boost::asio::ip::make_address("2001:db8::1")).to_string(),
            "2001:db8::1");
}

}  // namespace
}  // namespace isol8::proxy
