#include "backends/docker/reclaim.h"

#include <exception>

#include <spdlog/spdlog.h>

#include "backends/docker/container_spec.h"
#include "common/pid_dirs.h"

namespace isol8::docker {
namespace {

using nlohmann::json;

void reclaim(DockerClient& client, const std::optional<ProcessOwner>& self) {
  if (self) {
    if (auto removed = remove_dead_owners_containers(client, *self); !removed) {
      spdlog::warn("docker: could not look for containers of killed isol8 runs: {}",
                   removed.error().message);
    } else if (*removed > 0) {
      spdlog::debug("docker: removed {} container(s) of killed isol8 runs", *removed);
    }
  }
  if (const size_t dirs = remove_dead_pid_dirs(kProxyDirPrefix); dirs > 0) {
    spdlog::debug("docker: removed {} proxy dir(s) of killed isol8 runs", dirs);
  }
}

}  // namespace

Result<size_t> remove_dead_owners_containers(DockerClient& client, const ProcessOwner& self) {
  // Both labels: the daemon leaves out containers without an owner (older isol8, isol8 build).
  auto listed = client.list_containers(
      json{{"label", json::array({"isol8.managed=true", kOwnerLabel})}}, /*all=*/true);
  if (!listed) return std::move(listed).error();
  if (!listed->is_array()) return make_error("Docker container list is not an array");
  size_t removed = 0;
  for (const json& c : *listed) {
    if (!c.is_object() || !c.contains("Labels") || !c["Labels"].is_object()) continue;
    const json& labels = c["Labels"];
    const auto owner = labels.find(kOwnerLabel);
    const auto id = c.find("Id");
    if (owner == labels.end() || !owner->is_string() || id == c.end() || !id->is_string()) {
      continue;
    }
    const std::string owner_text = owner->get<std::string>();
    if (!owner_is_dead(owner_text, self)) continue;
    const std::string cid = id->get<std::string>();
    if (auto r = client.remove_container(cid, /*force=*/true); !r) {
      // Gone already (another runner reclaimed it first) is success.
      if (r.error().code == 404) continue;
      spdlog::warn("docker: could not remove container {} of the killed isol8 run {}: {}",
                   cid.substr(0, 12), owner_text, r.error().message);
      continue;
    }
    spdlog::debug("docker: removed container {} ({}) of the killed isol8 run {}", cid.substr(0, 12),
                  c.value("State", "?"), owner_text);
    ++removed;
  }
  return removed;
}

StaleReclaimer::StaleReclaimer(std::shared_ptr<DockerClient> client,
                               std::optional<ProcessOwner> self)
    : thread_([client = std::move(client), self = std::move(self)] {
        // Nothing may escape a thread; and a reclaim never fails the run it runs next to.
        try {
          reclaim(*client, self);
        } catch (const std::exception& e) {
          spdlog::warn("docker: reclaiming what killed isol8 runs left failed: {}", e.what());
        }
      }) {}

StaleReclaimer::~StaleReclaimer() {
  if (thread_.joinable()) thread_.join();
}

}  // namespace isol8::docker
