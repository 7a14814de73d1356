// `isol8 setup --backend docker`: imports the runtime roots of the rootfs store as Docker images
// isol8:<runtime>. The native part of `setup` (building the roots) belongs to the rootfs work;
// this file only holds the Docker import so that the two can be merged side by side.

#include <algorithm>
#include <filesystem>

#include <fmt/format.h>

#include "cli/build_session.h"
#include "cli/commands.h"
#include "core/docker_admin.h"
#include "rootfs/store.h"

namespace isol8::cli {

int docker_setup(const SetupArgs& args, const LoadedConfig& config) {
  auto docker = DockerAdmin::connect();
  if (!docker) return report_error(docker.error().message);
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
      auto up_to_date =
          (*docker)->image_up_to_date(repo + ":" + tag, root.dir, root.manifest.recipe_hash);
      if (!up_to_date) return report_error(up_to_date.error().message);
      if (*up_to_date) {
        fmt::print("[OK] {}: Up to date\n", runtime);
        continue;
      }
    }
    auto id = (*docker)->import_root(
        root.dir, repo, tag, runtime,
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
