#include "core/base64.h"

#include <random>
#include <string>

#include <gtest/gtest.h>

namespace isol8 {
namespace {

TEST(Base64, EncodesWithPaddingAsNodeBufferDoes) {
  EXPECT_EQ(base64_encode(""), "");
  EXPECT_EQ(base64_encode("f"), "Zg==");
  EXPECT_EQ(base64_encode("fo"), "Zm8=");
  EXPECT_EQ(base64_encode("foo"), "Zm9v");
  EXPECT_EQ(base64_encode(std::string("\0\xff", 2)), "AP8=");
}

TEST(Base64, RoundTripsArbitraryBytes) {
  std::mt19937 gen(7);
  std::string bytes(100000, '\0');
  for (char& c : bytes) c = static_cast<char>(gen());
  EXPECT_EQ(base64_decode(base64_encode(bytes)), bytes);
}

TEST(Base64, RefusesWhatIsNotBase64) {
  EXPECT_FALSE(base64_decode("a$b="));
  EXPECT_FALSE(base64_decode("Zg="));  // a missing pad
  EXPECT_EQ(base64_decode("Zm9v\n"), "foo");
}

}  // namespace
}  // namespace isol8
