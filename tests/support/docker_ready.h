#pragma once
// The one "is docker ready" check of every tier, and the count of isol8's containers on the
// daemon (tests check it is the same after a test as before).

#include <sys/types.h>

#include <string>

#include <gtest/gtest.h>

namespace isol8::test {

// The images docker runs of the suites use (isol8 setup, then isol8 setup --backend docker).
inline constexpr const char* kDockerTestImages[] = {"isol8:python", "isol8:bash", "isol8:node"};

// "" when docker runs can happen here: a daemon answers at DOCKER_HOST and has every image of
// kDockerTestImages; else why not, with how to fix it. Asked once per test process.
std::string docker_unavailable_reason();

// The isol8-managed containers on the daemon (running or not), or -1 when it cannot be asked.
long isol8_container_count();

// Those of them whose owner label (docs/docker.md, crash safety) names the process `owner`: what
// one runner (an `isol8 serve`, a CLI) holds, whatever other tests run on the daemon meanwhile.
long isol8_container_count_of(pid_t owner);

}  // namespace isol8::test

// For tests of the docker tier itself (tests/integration/docker): a missing daemon or image
// FAILS the test, loudly (scripts/test provides both). Suites that run on every backend skip
// their docker cases instead (backend_params.h).
#define ISOL8_REQUIRE_DOCKER()                                                \
  do {                                                                        \
    const std::string why = ::isol8::test::docker_unavailable_reason();       \
    ASSERT_TRUE(why.empty()) << "docker tier prerequisites missing: " << why; \
  } while (0)
