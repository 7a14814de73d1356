// isol8 list-custom, and isol8 rootfs import / list / rm: the store's roots.

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <iostream>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "cli/build_session.h"
#include "cli/commands.h"
#include "core/docker_admin.h"
#include "rootfs/builder.h"
#include "rootfs/tar_import.h"

namespace isol8::cli {
namespace {

bool is_runtime_root(const rootfs::Manifest& m) {
  for (const auto& rt : rootfs::buildable_runtimes()) {
    if (m.name == "isol8:" + rt && m.source == "recipe") return true;
  }
  return false;
}

std::string first_line(const std::string& s) {
  if (s.empty()) return "(none)";
  std::string line = s.substr(0, s.find('\n'));
  if (s.find('\n') != std::string::npos) line += " ...";
  return line;
}

Result<rootfs::RootfsStore> open_store(const LoadedConfig& config) {
  return rootfs::RootfsStore::open(configured_store_path(config));
}

}  // namespace

CLI::App* add_list_custom_command(CLI::App& app) {
  return app.add_subcommand("list-custom", "List custom root filesystems (isol8 build, imports)");
}

int list_custom_command(const LoadedConfig& config) {
  auto store = open_store(config);
  if (!store) return report_error(store.error().message);
  size_t n = 0;
  for (const auto& root : store->list()) {
    const auto& m = root.manifest;
    if (is_runtime_root(m)) continue;
    ++n;
    std::cout << m.name << "\n"
              << "  Runtime:  " << m.runtime << "\n"
              << "  Packages: "
              << (m.packages.empty() ? "(none)" : fmt::format("{}", fmt::join(m.packages, ", ")))
              << "\n"
              << "  Setup:    " << first_line(m.setup) << "\n";
  }
  if (n == 0) std::cout << "No custom images found in " << store->path().string() << std::endl;
  std::cout << std::flush;
  return 0;
}

// The image's filesystem through the Engine API: a container is created (never started), its
// export streamed through the same checks as a tar file, and the container removed.
static int import_docker_image(const RootfsArgs& args, const std::string& runtime,
                               const LoadedConfig& config) {
  auto docker = DockerAdmin::connect();
  if (!docker) return report_error(docker.error().message);
  auto tar = (*docker)->export_image_filesystem(args.image);
  if (!tar) return report_error(tar.error().message);
  auto store = rootfs::RootfsStore::open(configured_store_path(config), /*create=*/true);
  if (!store) return report_error(store.error().message);
  rootfs::ImportOptions opts;
  opts.force = args.force;
  opts.manifest.name = args.tag;
  opts.manifest.runtime = runtime;
  opts.manifest.base = "docker:" + args.image;
  size_t offset = 0;
  const rootfs::TarReader reader = [&](char* buf, size_t size) -> Result<size_t> {
    const size_t n = std::min(size, tar->size() - offset);
    std::memcpy(buf, tar->data() + offset, n);
    offset += n;
    return n;
  };
  auto root = rootfs::import_tar(*store, reader, opts);
  if (!root) return report_error(root.error().message);
  std::cout << "[OK] Imported " << args.image << " as " << args.tag << " into "
            << root->dir.string() << std::endl;
  return 0;
}

CLI::App* add_rootfs_command(CLI::App& app, RootfsArgs& a) {
  auto* cmd = app.add_subcommand("rootfs", "Manage the root filesystem store");
  cmd->require_subcommand(1);
  a.import_cmd = cmd->add_subcommand(
      "import", "Import a root filesystem from a tar archive or a Docker image (Engine API)");
  a.import_cmd->add_option("image", a.image, "A Docker image whose filesystem to import");
  a.import_cmd->add_option("--tar", a.tar, "The archive (plain or compressed tar), - for stdin");
  a.import_cmd->add_option("--tag", a.tag, "Name of the root in the store")->required();
  a.import_cmd->add_option("--runtime", a.runtime,
                           "The runtime it serves (default: from an isol8:<runtime> tag)");
  a.import_cmd->add_flag("--force", a.force, "Replace an existing root of that name");
  a.list_cmd = cmd->add_subcommand("list", "List the roots in the store");
  a.rm_cmd = cmd->add_subcommand("rm", "Remove a root from the store");
  a.rm_cmd->add_option("name", a.tag, "The root to remove")->required();
  return cmd;
}

int rootfs_command(const RootfsArgs& args, const LoadedConfig& config) {
  if (args.import_cmd->parsed()) {
    std::string runtime = args.runtime;
    if (runtime.empty() && args.tag.starts_with("isol8:")) runtime = args.tag.substr(6);
    const auto& all = rootfs::buildable_runtimes();
    if (std::find(all.begin(), all.end(), runtime) == all.end()) {
      return report_error(runtime.empty()
                              ? "Use --runtime <python|node|bun|deno|bash> to say which runtime "
                                "the imported root serves"
                              : fmt::format("Invalid runtime: {}. Expected one of: python, node, "
                                            "bun, deno, bash",
                                            runtime));
    }
    if (auto valid = rootfs::validate_root_name(args.tag); !valid) {
      return report_error(valid.error().message);
    }
    if (args.tar.empty() == args.image.empty()) {
      return report_error("rootfs import needs exactly one source: --tar <file> or a Docker image");
    }
    if (!args.image.empty()) return import_docker_image(args, runtime, config);
    UniqueFd fd;
    if (args.tar != "-") {
      fd.reset(::open(args.tar.c_str(), O_RDONLY | O_CLOEXEC));
      if (!fd)
        return report_error(fmt::format("Cannot open {}: {}", args.tar, std::strerror(errno)));
    }
    auto store = rootfs::RootfsStore::open(configured_store_path(config), /*create=*/true);
    if (!store) return report_error(store.error().message);
    rootfs::ImportOptions opts;
    opts.force = args.force;
    opts.manifest.name = args.tag;
    opts.manifest.runtime = runtime;
    opts.manifest.base = args.tar == "-" ? "stdin" : args.tar;
    auto root = rootfs::import_tar(*store, fd ? fd.get() : STDIN_FILENO, opts);
    if (!root) return report_error(root.error().message);
    std::cout << "[OK] Imported " << args.tag << " into " << root->dir.string() << std::endl;
    return 0;
  }
  if (args.list_cmd->parsed()) {
    auto store = open_store(config);
    if (!store) return report_error(store.error().message);
    const auto roots = store->list();
    if (roots.empty()) std::cout << "No roots in " << store->path().string() << std::endl;
    for (const auto& root : roots) {
      const auto& m = root.manifest;
      std::vector<std::string> versions;
      for (const auto& [k, v] : m.versions) versions.push_back(k + " " + v);
      std::cout << fmt::format("{:<24} {:<7} {:<7} {}  {}", m.name, m.runtime, m.source, m.created,
                               fmt::join(versions, ", "))
                << std::endl;
    }
    return 0;
  }
  if (args.rm_cmd->parsed()) {
    auto store = rootfs::RootfsStore::open(configured_store_path(config));
    if (!store) return report_error(store.error().message);
    auto lock = store->lock_for_writing();
    if (!lock) return report_error(lock.error().message);
    if (auto removed = store->remove(args.tag); !removed) {
      return report_error(removed.error().message);
    }
    std::cout << "[OK] Removed " << args.tag << std::endl;
    return 0;
  }
  return 1;
}

}  // namespace isol8::cli
