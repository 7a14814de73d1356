// `isol8 setup --backend docker`: imports the runtime roots of the rootfs store as Docker images
// isol8:<runtime>. The native part of `setup` (building the roots) belongs to the rootfs work;
// this file only holds the Docker import so that the two can be merged side by side.

#include <algorithm>
#include <filesystem>

#include <fmt/format.h>

#include "backends/docker/client.h"
#include "backends/docker/image_import.h"
#include "cli/build_session.h"
#include "cli/commands.h"
#include "rootfs/store.h"

namespace isol8::cli {

int docker_setup(const SetupArgs& args, const LoadedConfig& config) {
  auto client = docker::DockerClient::from_environment();
  if (!client) return report_error(client.error().message);
  if (auto pinged = (*client)->ping(); !pinged) return report_error(pinged.error().message);
  auto store = rootfs::RootfsStore::open(args.store.empty() ? configured_store_path(config)
                                                            : std::filesystem::path(args.store));
  if (!store) return report_error(store.error().message);
  std::vector<rootfs::StoredRoot> roots;
  for (auto& root : store->list()) {
    const bool wanted =
        args.runtimes.empty() ||
        std::find_if(args.runtimes.begin(), args.runtimes.end(), [&](const std::string& r) {
          return r == root.manifest.runtime || r == root.manifest.name;
        }) != args.runtimes.end();
    // Only the runtime roots (isol8:<runtime>) unless asked for by name: custom roots become
    // images with `isol8 build --backend docker`.
    if (wanted && (root.manifest.name.starts_with("isol8:") || !args.runtimes.empty())) {
      roots.push_back(std::move(root));
    }
  }
  if (roots.empty()) {
    return report_error(fmt::format(
        "The rootfs store {} holds no runtime roots; build them first with `isol8 setup`",
        store->path().string()));
  }
  for (const auto& root : roots) {
    const std::string& name = root.manifest.name;
    const std::string& runtime = root.manifest.runtime;
    // A runtime root is imported as it is in the store: one without the packages the config's
    // dependencies.<runtime> names has to be built again natively first.
    if (name == "isol8:" + runtime && root.manifest.source == "recipe" &&
        root.manifest.packages != configured_dependencies(config, runtime)) {
      fmt::print(
          "[ERR] {}: {} in {} does not have the config's dependencies.{}; build it first with "
          "`isol8 setup --runtime {}`\n",
          runtime, name, store->path().string(), runtime, runtime);
      return 1;
    }
    const auto colon = name.find(':');
    const std::string repo = colon == std::string::npos ? name : name.substr(0, colon);
    const std::string tag = colon == std::string::npos ? "latest" : name.substr(colon + 1);
    if (!args.force) {
      auto existing = (*client)->inspect_image(repo + ":" + tag);
      if (!existing) return report_error(existing.error().message);
      if (existing->has_value()) {
        const auto& labels = (**existing)["Config"]["Labels"];
        auto label = [&](const char* key) {
          return labels.is_object() && labels.contains(key) && labels[key].is_string()
                     ? labels[key].get<std::string>()
                     : std::string();
        };
        // An image imported before the backstop label existed is imported again, so that its
        // runs get the backstop (docker/invocation.h); one imported from another build of the
        // root (recipes, dependencies) too.
        const bool backstop_ok =
            !label(docker::kBackstopLabel).empty() || !docker::root_supports_backstop(root.dir);
        if (backstop_ok && label(docker::kBuildHashLabel) == root.manifest.recipe_hash) {
          fmt::print("[OK] {}: Up to date\n", runtime);
          continue;
        }
      }
    }
    auto id = docker::import_root_as_image(
        **client, root.dir, repo, tag, runtime,
        {root.manifest.setup, root.manifest.recipe_hash, root.manifest.packages});
    if (!id) {
      fmt::print("[ERR] {}: {}\n", runtime, id.error().message);
      return 1;
    }
    fmt::print("[OK] {}\n", runtime);
  }
  fmt::print("[DONE] Setup complete!\n");
  return 0;
}

}  // namespace isol8::cli
