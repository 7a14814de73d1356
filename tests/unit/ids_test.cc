#include "core/ids.h"

#include <time.h>

#include <regex>
#include <set>
#include <string>

#include <gtest/gtest.h>

namespace isol8 {
namespace {

const std::regex kUuidV4("^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$");
const std::regex kIsoTimestamp(R"(^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$)");

TEST(MakeUuidV4, HasTheV4Format) {
  for (int i = 0; i < 200; ++i) {
    const std::string id = make_uuid_v4();
    EXPECT_TRUE(std::regex_match(id, kUuidV4)) << id;
  }
}

TEST(MakeUuidV4, VersionNibbleIs4AndVariantIsRfc4122) {
  for (int i = 0; i < 200; ++i) {
    const std::string id = make_uuid_v4();
    ASSERT_EQ(id.size(), 36u) << id;
    EXPECT_EQ(id[14], '4') << id;
    EXPECT_NE(std::string("89ab").find(id[19]), std::string::npos) << id;
    EXPECT_EQ(id[8], '-');
    EXPECT_EQ(id[13], '-');
    EXPECT_EQ(id[18], '-');
    EXPECT_EQ(id[23], '-');
  }
}

TEST(MakeUuidV4, ThousandIdsAreUnique) {
  std::set<std::string> ids;
  for (int i = 0; i < 1000; ++i) ids.insert(make_uuid_v4());
  EXPECT_EQ(ids.size(), 1000u);
}

TEST(MakeUuidV4, RandomBitsVary) {
  // Over many ids, every hex position outside the fixed nibbles takes more than one value.
  std::set<char> seen[36];
  for (int i = 0; i < 200; ++i) {
    const std::string id = make_uuid_v4();
    for (size_t p = 0; p < id.size() && p < 36; ++p) seen[p].insert(id[p]);
  }
  for (size_t p = 0; p < 36; ++p) {
    if (p == 8 || p == 13 || p == 14 || p == 18 || p == 23) continue;
    EXPECT_GT(seen[p].size(), 1u) << "position " << p;
  }
}

TEST(IsoTimestampNow, HasTheIsoFormatWithMilliseconds) {
  const std::string ts = iso_timestamp_now();
  EXPECT_TRUE(std::regex_match(ts, kIsoTimestamp)) << ts;
}

TEST(IsoTimestampNow, IsCurrentUtcTime) {
  const time_t before = ::time(nullptr);
  const std::string ts = iso_timestamp_now();
  const time_t after = ::time(nullptr);
  struct tm tm {};
  ASSERT_NE(::strptime(ts.c_str(), "%Y-%m-%dT%H:%M:%S", &tm), nullptr) << ts;
  const time_t parsed = ::timegm(&tm);
  EXPECT_GE(parsed, before - 1) << ts;
  EXPECT_LE(parsed, after) << ts;
}

TEST(IsoTimestampNow, FieldsAreInRange) {
  const std::string ts = iso_timestamp_now();
  ASSERT_TRUE(std::regex_match(ts, kIsoTimestamp)) << ts;
  const int month = std::stoi(ts.substr(5, 2));
  const int day = std::stoi(ts.substr(8, 2));
  const int hour = std::stoi(ts.substr(11, 2));
  const int minute = std::stoi(ts.substr(14, 2));
  const int second = std::stoi(ts.substr(17, 2));
  EXPECT_GE(month, 1);
  EXPECT_LE(month, 12);
  EXPECT_GE(day, 1);
  EXPECT_LE(day, 31);
  EXPECT_LE(hour, 23);
  EXPECT_LE(minute, 59);
  EXPECT_LE(second, 60);
  EXPECT_GE(std::stoi(ts.substr(0, 4)), 2024);
}

}  // namespace
}  // namespace isol8
