#include "rootfs/selection.h"

#include <algorithm>
#include <set>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include "rootfs/store.h"

namespace isol8::rootfs {

const StoredRoot* match_packages(const std::vector<StoredRoot>& roots, const std::string& runtime,
                                 const std::vector<std::string>& wanted) {
  if (wanted.empty()) return nullptr;
  const std::set<std::string> want(wanted.begin(), wanted.end());
  const StoredRoot* best = nullptr;
  for (const auto& root : roots) {
    if (root.manifest.runtime != runtime) continue;
    const std::set<std::string> has(root.manifest.packages.begin(), root.manifest.packages.end());
    if (!std::includes(has.begin(), has.end(), want.begin(), want.end())) continue;
    if (has == want) return &root;
    if (best == nullptr || root.manifest.packages.size() < best->manifest.packages.size()) {
      best = &root;
    }
  }
  return best;
}

Result<RootSelection> select_root(const Options& options, const std::string& runtime,
                                  const std::vector<std::string>& packages) {
  RootSelection sel;
  if (options.backend == BackendKind::kDocker) {
    // Docker runs images, not store roots: the image named, else the runtime's (the Docker
    // backend builds or imports isol8:<runtime> itself).
    sel.image = options.image.empty() ? "isol8:" + runtime : options.image;
    spdlog::debug("image: {} (docker backend)", sel.image);
    return sel;
  }
  if (!options.native.root_dir.empty()) {
    spdlog::debug("root filesystem: {} (native.rootDir)", options.native.root_dir);
    sel.root_dir = options.native.root_dir;
    return sel;
  }
  const auto store_path = resolve_store_path(options.rootfs_store);
  auto store = RootfsStore::open(store_path);
  if (!store) return std::move(store).error();
  if (!options.image.empty()) {
    ISOL8_TRY(validate_root_name(options.image));
    auto root = store->find(options.image);
    if (!root) {
      return make_error(fmt::format(
          "Image {} not found in the rootfs store {}. Build the runtime roots with `isol8 "
          "setup`, a custom one with `isol8 build --base <runtime> --tag {}`, or import one with "
          "`isol8 rootfs import --tar <file> --tag {}`.",
          options.image, store_path.string(), options.image, options.image));
    }
    spdlog::debug("root filesystem: image {} at {} ({})", options.image, root->dir.string(),
                  describe_contents(root->manifest));
    sel.root_dir = root->dir.string();
    sel.image = root->manifest.name;
    sel.image_setup = root->manifest.setup;
    return sel;
  }
  if (!packages.empty()) {
    const auto roots = store->list();
    if (const StoredRoot* root = match_packages(roots, runtime, packages)) {
      const bool exact = root->manifest.packages.size() ==
                         std::set<std::string>(packages.begin(), packages.end()).size();
      spdlog::debug(
          "root filesystem: {} at {} ({}): it has the requested packages [{}] baked in ({}), so "
          "nothing is installed at run time",
          root->manifest.name, root->dir.string(), describe_contents(root->manifest),
          fmt::join(packages, ", "), exact ? "exact match" : "a superset");
      sel.root_dir = root->dir.string();
      sel.image = root->manifest.name;
      sel.image_setup = root->manifest.setup;
      sel.packages_baked_in = true;
      return sel;
    }
    spdlog::debug("no custom root of {} in {} has [{}] baked in: installing them at run time",
                  runtime, store_path.string(), fmt::join(packages, ", "));
  }
  const std::string name = "isol8:" + runtime;
  if (auto root = store->find(name)) {
    spdlog::debug("root filesystem: {} at {} ({})", name, root->dir.string(),
                  describe_contents(root->manifest));
    sel.root_dir = root->dir.string();
    sel.image = root->manifest.name;
    sel.image_setup = root->manifest.setup;
    return sel;
  }
  spdlog::debug("root filesystem: the host's system directories ({} is not in the store {})", name,
                store_path.string());
  return sel;
}

std::string compose_setup_script(const std::string& image_setup, const std::string& request_setup) {
  if (image_setup.empty()) return request_setup;
  if (request_setup.empty()) return image_setup;
  return image_setup + "\n" + request_setup;
}

}  // namespace isol8::rootfs
