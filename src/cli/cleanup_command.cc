// `isol8 cleanup [--force] [--images]` (reference §1.5, fixed): selects by label, not by image
// name, so containers of custom images and pooled containers are found too; lists what it will
// remove and asks first, with the native sandboxes kept by --persist (found by their cgroups,
// named after their init). Also removes what dead runs left behind: stale cgroups of native runs,
// the network slot locks of killed native runners, and the proxy directories of killed runners of
// either backend; and the reused cgroups of one-shot runs (cgroup slots) that no run holds.

#include <unistd.h>

#include <iostream>

#include <fmt/format.h>

#include "cli/commands.h"
#include "core/docker_admin.h"
#include "core/maintenance.h"

namespace isol8::cli {

CLI::App* add_cleanup_command(CLI::App& app, CleanupArgs& args) {
  auto* cmd = app.add_subcommand(
      "cleanup",
      "Remove isol8 containers (and images), kept native sandboxes, stale cgroups, idle cgroup "
      "slots and proxy directories");
  cmd->add_flag("--force", args.force, "Do not ask for confirmation");
  cmd->add_flag("--images", args.images, "Also remove isol8 images");
  return cmd;
}

int cleanup_command(const CleanupArgs& args) {
  int status = 0;
  Leftovers leftovers;
  if (auto reclaimed = remove_dead_runs_leftovers(leftovers); !reclaimed) {
    std::cerr << "[WARN] could not remove what dead runs left: " << reclaimed.error().message
              << "\n";
    status = 1;
  } else if (leftovers.cgroups > 0) {
    fmt::print("[OK] removed {} stale cgroup(s) of dead native runs\n", leftovers.cgroups);
  }
  if (const size_t dirs = leftovers.proxy_dirs; dirs > 0)
    fmt::print("[OK] removed {} proxy director{} of dead runs\n", dirs, dirs == 1 ? "y" : "ies");
  if (const size_t slots = leftovers.network_slots; slots > 0)
    fmt::print("[OK] removed {} network slot lock(s) of dead runs\n", slots);
  if (const size_t slots = leftovers.cgroup_slots; slots > 0)
    fmt::print("[OK] removed {} idle cgroup slot(s) of one-shot runs\n", slots);
  if (const size_t slots = leftovers.netns_slots; slots > 0)
    fmt::print("[OK] removed {} network namespace(s) made ahead for one-shot runs\n", slots);

  // Native sandboxes kept by --persist: asked about and removed with the containers.
  std::vector<KeptNativeSandbox> kept;
  if (auto listed = list_kept_native_sandboxes(); listed) {
    kept = std::move(listed).value();
  } else {
    std::cerr << "[WARN] could not list kept native sandboxes: " << listed.error().message << "\n";
    status = 1;
  }

  std::vector<DockerContainerSummary> containers;
  std::vector<DockerImageSummary> images;
  auto docker = DockerAdmin::from_environment();
  if (!docker) return report_error(docker.error().message);
  if (auto pinged = (*docker)->ping(); !pinged) {
    fmt::print("[INFO] {}; no Docker containers to clean\n", pinged.error().message);
    if (kept.empty()) return status;
  } else {
    auto listed = (*docker)->list_containers();
    if (!listed) return report_error(listed.error().message);
    containers = std::move(listed).value();
    if (args.images) {
      auto listed_images = (*docker)->list_images();
      if (!listed_images) return report_error(listed_images.error().message);
      images = std::move(listed_images).value();
    }
  }
  if (kept.empty() && containers.empty() && images.empty()) {
    fmt::print("No isol8 containers found{}.\n", args.images ? " and no isol8 images" : "");
    return status;
  }
  if (!kept.empty()) fmt::print("Found {} kept native sandbox(es):\n", kept.size());
  for (const auto& k : kept) fmt::print("  init pid {:<8} {}\n", k.init_pid, k.cgroup);
  if (!containers.empty()) fmt::print("Found {} isol8 container(s):\n", containers.size());
  for (const auto& c : containers) {
    fmt::print("  {:<10} {}  {}\n", c.state, c.id.substr(0, 12), c.image);
  }
  if (!images.empty()) fmt::print("Found {} isol8 image(s):\n", images.size());
  for (const auto& i : images) fmt::print("  {}  {}\n", i.id.substr(7, 12), i.tag);
  if (!args.force) {
    if (::isatty(STDIN_FILENO) == 0) {
      return report_error(
          "cleanup needs confirmation, but stdin is not a terminal; pass --force to remove "
          "without asking");
    }
    fmt::print("Remove all these {}{}? [y/N] ", kept.empty() ? "containers" : "sandboxes",
               args.images ? " and images" : "");
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
  for (const auto& k : kept) {
    if (auto r = remove_kept_native_sandbox(k); r) {
      ++removed;
    } else {
      ++failed;
      std::cerr << "[ERR] native sandbox (init pid " << k.init_pid << "): " << r.error().message
                << "\n";
    }
  }
  for (const auto& c : containers) {
    const std::string& id = c.id;
    if (auto r = (*docker)->remove_container(id); r) {
      ++removed;
    } else {
      ++failed;
      std::cerr << "[ERR] container " << id.substr(0, 12) << ": " << r.error().message << "\n";
    }
  }
  for (const auto& i : images) {
    const std::string& id = i.id;
    if (auto r = (*docker)->remove_image(id); r) {
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
