// `isol8 cleanup [--force] [--images]` (reference §1.5, fixed): selects by label, not by image
// name, so containers of custom images and pooled containers are found too; lists what it will
// remove and asks first. Also removes what dead runs left behind: stale cgroups of native runs,
// and the proxy directories of killed runners of either backend.

#include <unistd.h>

#include <iostream>

#include <fmt/format.h>

#include "backends/docker/client.h"
#include "backends/docker/reclaim.h"
#include "backends/native/relay_endpoint.h"
#include "cgroups/cgroup_manager.h"
#include "cli/commands.h"
#include "common/pid_dirs.h"

namespace isol8::cli {

CLI::App* add_cleanup_command(CLI::App& app, CleanupArgs& args) {
  auto* cmd = app.add_subcommand(
      "cleanup", "Remove isol8 containers (and images), stale cgroups and proxy directories");
  cmd->add_flag("--force", args.force, "Do not ask for confirmation");
  cmd->add_flag("--images", args.images, "Also remove isol8 images");
  return cmd;
}

int cleanup_command(const CleanupArgs& args) {
  using nlohmann::json;
  int status = 0;
  // Native leftovers: cgroups of runners that died without removing them.
  auto cgroups = detect_cgroup_manager();
  if (auto reclaimed = cgroups->reclaim_stale(); !reclaimed) {
    std::cerr << "[WARN] could not remove stale cgroups: " << reclaimed.error().message << "\n";
    status = 1;
  } else if (*reclaimed > 0) {
    fmt::print("[OK] removed {} stale cgroup(s) of dead native runs\n", *reclaimed);
  }
  // The proxy directories of killed runners (their proxies died with them): the native relay's
  // and the docker backend's, named after the runner's pid.
  const size_t dirs =
      RelayEndpoint::reclaim_stale() + remove_dead_pid_dirs(docker::kProxyDirPrefix);
  if (dirs > 0)
    fmt::print("[OK] removed {} proxy director{} of dead runs\n", dirs, dirs == 1 ? "y" : "ies");

  auto client = docker::DockerClient::from_environment();
  if (!client) return report_error(client.error().message);
  if (auto pinged = (*client)->ping(); !pinged) {
    fmt::print("[INFO] {}; no Docker containers to clean\n", pinged.error().message);
    return status;
  }
  auto containers =
      (*client)->list_containers(json{{"label", json::array({"isol8.managed=true"})}}, true);
  if (!containers) return report_error(containers.error().message);
  json images = json::array();
  if (args.images) {
    auto listed = (*client)->list_images(json{{"label", json::array({"org.isol8.runtime"})}});
    if (!listed) return report_error(listed.error().message);
    images = std::move(*listed);
  }
  if (containers->empty() && images.empty()) {
    fmt::print("No isol8 containers found{}.\n", args.images ? " and no isol8 images" : "");
    return status;
  }
  if (!containers->empty()) fmt::print("Found {} isol8 container(s):\n", containers->size());
  for (const auto& c : *containers) {
    fmt::print("  {:<10} {}  {}\n", c.value("State", "?"), c.value("Id", "").substr(0, 12),
               c.value("Image", ""));
  }
  if (!images.empty()) fmt::print("Found {} isol8 image(s):\n", images.size());
  for (const auto& i : images) {
    std::string tag = "<none>";
    if (i.contains("RepoTags") && i["RepoTags"].is_array() && !i["RepoTags"].empty()) {
      tag = i["RepoTags"][0];
    }
    fmt::print("  {}  {}\n", i.value("Id", "").substr(7, 12), tag);
  }
  if (!args.force) {
    if (::isatty(STDIN_FILENO) == 0) {
      return report_error(
          "cleanup needs confirmation, but stdin is not a terminal; pass --force to remove "
          "without asking");
    }
    fmt::print("Remove all these containers{}? [y/N] ", args.images ? " and images" : "");
    std::fflush(stdout);
    std::string answer;
    std::getline(std::cin, answer);
    if (answer != "y" && answer != "Y" && answer != "yes" && answer != "YES") {
      fmt::print("Cleanup cancelled\n");
      return 0;
    }
  }
  int removed = 0;
  int failed = 0;
  for (const auto& c : *containers) {
    const std::string id = c.value("Id", "");
    if (auto r = (*client)->remove_container(id, true); r) {
      ++removed;
    } else {
      ++failed;
      std::cerr << "[ERR] container " << id.substr(0, 12) << ": " << r.error().message << "\n";
    }
  }
  for (const auto& i : images) {
    const std::string id = i.value("Id", "");
    if (auto r = (*client)->remove_image(id, true); r) {
      ++removed;
    } else {
      ++failed;
      std::cerr << "[ERR] image " << id << ": " << r.error().message << "\n";
    }
  }
  fmt::print("[OK] removed {}, failed {}\n", removed, failed);
  return failed > 0 ? 1 : status;
}

}  // namespace isol8::cli
