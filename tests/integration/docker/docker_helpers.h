#pragma once
// Helpers for the docker tier: a daemon must answer at DOCKER_HOST and the test images
// (isol8:python, isol8:bash) must exist. scripts/test provides both (scripts/dockerd-start,
// scripts/test: isol8 setup, then isol8 setup --backend docker); without them these tests FAIL,
// loudly, with how to fix it.

#include <gtest/gtest.h>

#include <string>

#include "backends/docker/client.h"

namespace isol8::test {

inline std::string docker_unready_reason() {
  auto client = docker::DockerClient::from_environment();
  if (!client) return client.error().message;
  if (auto p = (*client)->ping(); !p) return p.error().message;
  for (const char* image : {"isol8:python", "isol8:bash"}) {
    auto i = (*client)->inspect_image(image);
    if (!i) return i.error().message;
    if (!i->has_value()) {
      return std::string("image ") + image +
             " is missing: run isol8 setup, then isol8 setup --backend docker (scripts/test does)";
    }
  }
  return "";
}

#define ISOL8_REQUIRE_DOCKER()                                                \
  do {                                                                        \
    const std::string why = ::isol8::test::docker_unready_reason();           \
    ASSERT_TRUE(why.empty()) << "docker tier prerequisites missing: " << why; \
  } while (0)

}  // namespace isol8::test
