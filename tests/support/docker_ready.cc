#include "support/docker_ready.h"

#include <nlohmann/json.hpp>

#include "backends/docker/client.h"

namespace isol8::test {

std::string docker_unavailable_reason() {
  static const std::string reason = []() -> std::string {
    auto client = docker::DockerClient::from_environment();
    if (!client) return client.error().message;
    if (auto p = (*client)->ping(); !p) return "no Docker daemon: " + p.error().message;
    for (const char* image : kDockerTestImages) {
      auto i = (*client)->inspect_image(image);
      if (!i) return i.error().message;
      if (!i->has_value()) {
        return std::string("image ") + image +
               " is missing: run isol8 setup, then isol8 setup --backend docker (scripts/test "
               "does)";
      }
    }
    return "";
  }();
  return reason;
}

long isol8_container_count() {
  auto client = docker::DockerClient::from_environment();
  if (!client) return -1;
  auto list = (*client)->list_containers(
      nlohmann::json{{"label", nlohmann::json::array({"isol8.managed=true"})}}, true);
  return list ? static_cast<long>(list->size()) : -1;
}

}  // namespace isol8::test
