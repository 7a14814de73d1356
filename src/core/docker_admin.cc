#include "core/docker_admin.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "backends/docker/client.h"
#include "backends/docker/image_import.h"
#include "common/scope_exit.h"

namespace isol8 {

using nlohmann::json;

DockerAdmin::DockerAdmin(std::shared_ptr<docker::DockerClient> client)
    : client_(std::move(client)) {}

DockerAdmin::~DockerAdmin() = default;

Result<std::unique_ptr<DockerAdmin>> DockerAdmin::from_environment() {
  auto client = docker::DockerClient::from_environment();
  if (!client) return std::move(client).error();
  return std::unique_ptr<DockerAdmin>(new DockerAdmin(std::move(client).value()));
}

Result<std::unique_ptr<DockerAdmin>> DockerAdmin::connect() {
  auto admin = from_environment();
  if (!admin) return admin;
  ISOL8_TRY((*admin)->ping());
  return admin;
}

Result<void> DockerAdmin::ping() { return client_->ping(); }

Result<std::vector<DockerContainerSummary>> DockerAdmin::list_containers() {
  auto listed =
      client_->list_containers(json{{"label", json::array({"isol8.managed=true"})}}, true);
  if (!listed) return std::move(listed).error();
  std::vector<DockerContainerSummary> out;
  for (const auto& c : *listed) {
    out.push_back({c.value("Id", ""), c.value("State", "?"), c.value("Image", "")});
  }
  return out;
}

Result<std::vector<DockerImageSummary>> DockerAdmin::list_images() {
  auto listed = client_->list_images(json{{"label", json::array({"org.isol8.runtime"})}});
  if (!listed) return std::move(listed).error();
  std::vector<DockerImageSummary> out;
  for (const auto& i : *listed) {
    std::string tag = "<none>";
    if (i.contains("RepoTags") && i["RepoTags"].is_array() && !i["RepoTags"].empty()) {
      tag = i["RepoTags"][0];
    }
    out.push_back({i.value("Id", ""), std::move(tag)});
  }
  return out;
}

Result<void> DockerAdmin::remove_container(const std::string& id) {
  return client_->remove_container(id, /*force=*/true);
}

Result<void> DockerAdmin::remove_image(const std::string& id) {
  return client_->remove_image(id, /*force=*/true);
}

Result<bool> DockerAdmin::image_up_to_date(const std::string& image,
                                           const std::filesystem::path& root,
                                           const std::string& build_hash) {
  auto existing = client_->inspect_image(image);
  if (!existing) return std::move(existing).error();
  if (!existing->has_value()) return false;
  const auto& labels = (**existing)["Config"]["Labels"];
  auto label = [&](const char* key) {
    return labels.is_object() && labels.contains(key) && labels[key].is_string()
               ? labels[key].get<std::string>()
               : std::string();
  };
  // An image imported before the backstop label existed is imported again, so that its runs get
  // the backstop (docker/invocation.h); one imported from another build of the root (recipes,
  // dependencies) too.
  const bool backstop_ok =
      !label(docker::kBackstopLabel).empty() || !docker::root_supports_backstop(root);
  return backstop_ok && label(docker::kBuildHashLabel) == build_hash;
}

Result<std::string> DockerAdmin::import_root(const std::filesystem::path& root,
                                             const std::string& repo, const std::string& tag,
                                             const std::string& runtime,
                                             const RootImageLabels& labels) {
  return docker::import_root_as_image(*client_, root, repo, tag, runtime,
                                      {labels.setup, labels.build_hash, labels.packages});
}

Result<std::string> DockerAdmin::export_image_filesystem(const std::string& image) {
  auto inspected = client_->inspect_image(image);
  if (!inspected) return std::move(inspected).error();
  if (!inspected->has_value()) return make_error(fmt::format("Docker image {} not found", image));
  auto id = client_->create_container(
      json{{"Image", image},
           {"Cmd", {"/nonexistent"}},
           {"Labels", {{"isol8.managed", "true"}, {"isol8.purpose", "rootfs-export"}}}});
  if (!id) return std::move(id).error();
  ScopeExit remove([&] { (void)client_->remove_container(*id, /*force=*/true); });
  return client_->export_container(*id);
}

}  // namespace isol8
