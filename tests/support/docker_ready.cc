#include "support/docker_ready.h"

#include <nlohmann/json.hpp>

#include "backends/docker/client.h"
#include "backends/docker/container_spec.h"
#include "common/process_owner.h"

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

namespace {

Result<nlohmann::json> isol8_containers() {
  auto client = docker::DockerClient::from_environment();
  if (!client) return std::move(client).error();
  return (*client)->list_containers(
      nlohmann::json{{"label", nlohmann::json::array({"isol8.managed=true"})}}, true);
}

}  // namespace

long isol8_container_count() {
  auto list = isol8_containers();
  return list ? static_cast<long>(list->size()) : -1;
}

long isol8_container_count_of(pid_t owner) {
  auto list = isol8_containers();
  if (!list) return -1;
  long n = 0;
  for (const auto& c : *list) {
    const auto labels = c.find("Labels");
    if (labels == c.end() || !labels->is_object()) continue;
    const auto parsed = parse_owner(labels->value(docker::kOwnerLabel, ""));
    if (parsed && parsed->pid == owner) ++n;
  }
  return n;
}

}  // namespace isol8::test
