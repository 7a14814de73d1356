// `isol8 setup --backend docker`: imports the runtime roots of the rootfs store as Docker images
// isol8:<runtime>. The native part of `setup` (building the roots) belongs to the rootfs work;
// this file only holds the Docker import so that the two can be merged side by side.

#include <fmt/format.h>

#include "backends/docker/client.h"
#include "backends/docker/image_import.h"
#include "cli/commands.h"

namespace isol8::cli {

CLI::App* add_setup_command(CLI::App& app, SetupArgs& args) {
  auto* cmd =
      app.add_subcommand("setup", "Prepare runtime images (docker: import the rootfs store)");
  cmd->add_option("--backend", args.backend, "docker: import the store's roots as isol8:<runtime>");
  cmd->add_option("--store", args.store, "The rootfs store (default: the native backend's)");
  cmd->add_option("--runtime", args.runtimes, "Only these store entries (repeatable)");
  cmd->add_flag("--force", args.force, "Re-import images that already exist");
  return cmd;
}

int docker_setup(const SetupArgs& args, const LoadedConfig& config) {
  (void)config;
  auto client = docker::DockerClient::from_environment();
  if (!client) return report_error(client.error().message);
  if (auto pinged = (*client)->ping(); !pinged) return report_error(pinged.error().message);
  const auto store = docker::default_rootfs_store(args.store);
  std::vector<std::string> names = args.runtimes;
  if (!args.force) {
    // Skip roots whose image exists (unless --force); an explicit empty list means "all".
    std::vector<std::string> all = names;
    if (all.empty()) {
      std::error_code ec;
      for (const auto& e : std::filesystem::directory_iterator(store, ec)) {
        if (e.is_directory() &&
            std::filesystem::exists(store / (e.path().filename().string() + ".json"))) {
          all.push_back(e.path().filename().string());
        }
      }
    }
    names.clear();
    for (const auto& n : all) {
      auto existing = (*client)->inspect_image("isol8:" + n);
      if (!existing) return report_error(existing.error().message);
      if (existing->has_value()) {
        fmt::print("[OK] isol8:{}: Up to date\n", n);
      } else {
        names.push_back(n);
      }
    }
    if (names.empty() && !all.empty()) {
      fmt::print("[DONE] Setup complete!\n");
      return 0;
    }
  }
  auto imported = docker::import_store_roots_to_docker(
      **client, store, names, [](const std::string& line) { fmt::print("{}\n", line); });
  if (!imported) return report_error(imported.error().message);
  fmt::print("[DONE] Setup complete!\n");
  return 0;
}

int setup_command(const SetupArgs& args, const LoadedConfig& config) {
  const std::string backend = args.backend.value_or("native");
  if (backend == "docker") return docker_setup(args, config);
  if (backend == "native") {
    return report_error(
        "isol8 setup for the native backend (building runtime roots) is not available in this "
        "build; use `isol8 setup --backend docker` to import an existing rootfs store into "
        "Docker.");
  }
  return report_error(
      fmt::format("Invalid --backend value: \"{}\". Expected one of: native, docker", backend));
}

}  // namespace isol8::cli
