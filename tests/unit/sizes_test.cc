#include "core/sizes.h"

#include <string>

#include <gtest/gtest.h>

namespace isol8 {
namespace {

uint64_t size_of(const std::string& text) {
  auto r = parse_size(text);
  EXPECT_TRUE(r) << text << ": " << r.error().message;
  return r ? *r : 0;
}

std::string expected_message(const std::string& text) {
  return "Invalid memory limit format: \"" + text + "\". Use e.g. \"512m\", \"1g\".";
}

TEST(ParseSize, Megabytes) { EXPECT_EQ(size_of("512m"), 536870912u); }

TEST(ParseSize, Gigabytes) { EXPECT_EQ(size_of("1g"), 1073741824u); }

TEST(ParseSize, Kilobytes) { EXPECT_EQ(size_of("256k"), 262144u); }

TEST(ParseSize, Terabytes) { EXPECT_EQ(size_of("1t"), 1099511627776u); }

TEST(ParseSize, PlainBytes) { EXPECT_EQ(size_of("1048576"), 1048576u); }

TEST(ParseSize, OneByte) { EXPECT_EQ(size_of("1"), 1u); }

TEST(ParseSize, BytesWithB) { EXPECT_EQ(size_of("512b"), 512u); }

TEST(ParseSize, Fractional) {
  EXPECT_EQ(size_of("1.5g"), 1610612736u);
  EXPECT_EQ(size_of("0.5k"), 512u);
  EXPECT_EQ(size_of("2.5m"), 2621440u);
}

TEST(ParseSize, UnitWithB) {
  EXPECT_EQ(size_of("2MB"), 2097152u);
  EXPECT_EQ(size_of("2mb"), 2097152u);
  EXPECT_EQ(size_of("1gb"), 1073741824u);
}

TEST(ParseSize, SpaceBeforeTheUnit) { EXPECT_EQ(size_of("512 m"), 536870912u); }

TEST(ParseSize, Uppercase) {
  EXPECT_EQ(size_of("512M"), 536870912u);
  EXPECT_EQ(size_of("1G"), 1073741824u);
  EXPECT_EQ(size_of("256K"), 262144u);
  EXPECT_EQ(size_of("1GB"), 1073741824u);
}

class ParseSizeInvalid : public ::testing::TestWithParam<std::string> {};

TEST_P(ParseSizeInvalid, FailsWithTheUpstreamMessage) {
  auto r = parse_size(GetParam());
  ASSERT_FALSE(r) << GetParam() << " parsed as " << *r;
  EXPECT_EQ(r.error().message, expected_message(GetParam()));
}

INSTANTIATE_TEST_SUITE_P(Inputs, ParseSizeInvalid,
                         ::testing::Values("abc", "", "-1", "12x", "0", "0m", "0.0001k", "m", "1.g",
                                           ".5g", "1..5g", "1e6", "512mm", "1 g b",
                                           "99999999999t"));

// Values can come from a config file or a library caller: a long one is an error, not a crash
// (std::regex recursed once per character and overflowed the stack at about 100k).
TEST(ParseSize, VeryLongValuesAreRefused) {
  EXPECT_FALSE(parse_size(std::string(200000, '1')));
  EXPECT_FALSE(parse_size(std::string(200000, '1') + "x"));
  EXPECT_FALSE(parse_size("1." + std::string(200000, '0') + "q"));
  EXPECT_EQ(size_of("0000000000000000000000000000000000000000001k"), 1024u);
}

TEST(ParseSize, MessageQuotesTheInputVerbatim) {
  auto r = parse_size("12X");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message, "Invalid memory limit format: \"12X\". Use e.g. \"512m\", \"1g\".");
}

}  // namespace
}  // namespace isol8
