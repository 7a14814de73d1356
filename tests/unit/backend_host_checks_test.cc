// What `isol8 doctor` asks the backends: the native checks follow the configured options.

#include <unistd.h>

#include <algorithm>

#include <gtest/gtest.h>

#include "backends/factory.h"

namespace isol8 {
namespace {

const Check* find_check(const std::vector<Check>& checks, const std::string& name) {
  auto it =
      std::find_if(checks.begin(), checks.end(), [&](const Check& c) { return c.name == name; });
  return it == checks.end() ? nullptr : &*it;
}

TEST(BackendHostChecks, NativeChecksCoverIdMappingCgroupsAndSeccomp) {
  const auto checks = check_native_host(Options{});
  EXPECT_NE(find_check(checks, "id mapping"), nullptr);
  EXPECT_NE(find_check(checks, "cgroups"), nullptr);
  EXPECT_NE(find_check(checks, "seccomp"), nullptr);
}

TEST(BackendHostChecks, IdMappingUsesTheConfiguredBase) {
  if (::geteuid() != 0)
    GTEST_SKIP() << "the privileged id mapping (a base of our choice) needs root";
  Options options;
  options.native.id_map_base = 2000000;
  const auto checks = check_native_host(options);
  const Check* id_map = find_check(checks, "id mapping");
  ASSERT_NE(id_map, nullptr);
  EXPECT_NE(id_map->detail.find("host uid 2000100"), std::string::npos) << id_map->detail;
}

}  // namespace
}  // namespace isol8
