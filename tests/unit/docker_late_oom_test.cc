// The docker backend's second look at State.OOMKilled after a SIGKILL exit (late_oom.h).

#include <gtest/gtest.h>

#include "backends/docker/late_oom.h"

namespace isol8::docker {
namespace {

using std::chrono::milliseconds;

TEST(DockerLateOom, AFlagSetAfterTheExitIsSeen) {
  int asked = 0;
  EXPECT_TRUE(await_late_oom_flag([&]() -> Result<bool> { return ++asked >= 3; },
                                  milliseconds(2000), milliseconds(1)));
  EXPECT_EQ(asked, 3);
}

TEST(DockerLateOom, AFlagThatNeverComesIsAPlainSigkill) {
  int asked = 0;
  EXPECT_FALSE(await_late_oom_flag(
      [&]() -> Result<bool> {
        ++asked;
        return false;
      },
      milliseconds(30), milliseconds(5)));
  EXPECT_GE(asked, 1);
}

TEST(DockerLateOom, AFailedInspectEndsTheWait) {
  int asked = 0;
  EXPECT_FALSE(await_late_oom_flag(
      [&]() -> Result<bool> {
        ++asked;
        return make_error("the container is gone");
      },
      milliseconds(2000), milliseconds(1)));
  EXPECT_EQ(asked, 1);
}

}  // namespace
}  // namespace isol8::docker
