#include "support/seccomp_profiles.h"

#include <gtest/gtest.h>

namespace isol8::test {

SeccompProfile profile_or_fail(const std::string& json) {
  auto profile = parse_seccomp_profile(json);
  EXPECT_TRUE(profile) << profile.error().message;
  return profile ? std::move(*profile) : SeccompProfile{};
}

}  // namespace isol8::test
