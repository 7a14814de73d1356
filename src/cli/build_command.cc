// isol8 build --base <runtime> --tag <name> [--install pkg[,pkg]]... [--setup cmd]... [--force]:
// a custom root, isol8:<runtime> with packages baked in and a setup script for every run.

#include <signal.h>

#include <filesystem>
#include <iostream>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "cli/build_session.h"
#include "cli/commands.h"
#include "common/fs_util.h"
#include "core/docker_admin.h"
#include "isol8/options.h"
#include "rootfs/builder.h"

namespace isol8::cli {
namespace {

std::string trim(const std::string& s) {
  const auto b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return "";
  const auto e = s.find_last_not_of(" \t\r\n");
  return s.substr(b, e - b + 1);
}

}  // namespace

Result<rootfs::CustomBuild> custom_build_from_args(const BuildArgs& args) {
  rootfs::CustomBuild spec;
  const auto& runtimes = rootfs::buildable_runtimes();
  if (std::find(runtimes.begin(), runtimes.end(), args.base) == runtimes.end()) {
    return make_error(fmt::format(
        "Invalid runtime: {}. Expected one of: python, node, bun, deno, bash", args.base));
  }
  spec.runtime = args.base;
  ISOL8_TRY(rootfs::validate_root_name(args.tag));
  spec.tag = args.tag;
  for (const auto& entry : args.install) {
    size_t i = 0;
    while (i <= entry.size()) {
      size_t j = entry.find(',', i);
      if (j == std::string::npos) j = entry.size();
      std::string p = trim(entry.substr(i, j - i));
      if (!p.empty()) {
        ISOL8_TRY(rootfs::validate_package_name(p));
        spec.packages.push_back(std::move(p));
      }
      i = j + 1;
    }
  }
  std::sort(spec.packages.begin(), spec.packages.end());
  spec.packages.erase(std::unique(spec.packages.begin(), spec.packages.end()), spec.packages.end());
  std::vector<std::string> lines;
  for (const auto& s : args.setup) {
    std::error_code ec;
    if (std::filesystem::is_regular_file(s, ec)) {
      auto text = read_file(s);
      if (!text) return std::move(text).error();
      lines.push_back(*text);
    } else {
      lines.push_back(s);
    }
  }
  for (size_t i = 0; i < lines.size(); ++i) spec.setup += (i ? "\n" : "") + lines[i];
  if (spec.packages.empty() && trim(spec.setup).empty()) {
    return make_error(
        "No packages or setup script specified. Use --install <package> or --setup <command>.");
  }
  spec.force = args.force;
  return spec;
}

CLI::App* add_build_command(CLI::App& app, BuildArgs& a) {
  auto* cmd =
      app.add_subcommand("build", "Build a custom root with packages baked in (needs root)");
  cmd->add_option("--base", a.base, "Runtime: python, node, bun, deno or bash")->required();
  cmd->add_option("--tag", a.tag, "Name of the new root, e.g. my-python-ml")->required();
  cmd->add_option("--install", a.install, "Package(s) to install (repeatable, comma-separated)");
  cmd->add_option("--setup", a.setup,
                  "Setup script run before every execution (a file path or a command; repeatable)");
  cmd->add_flag("--force", a.force, "Rebuild an existing tag");
  cmd->add_option("--backend", a.backend,
                  "native (a root in the rootfs store) or docker (that root, then imported as the "
                  "Docker image <tag>)");
  return cmd;
}

int build_command(const BuildArgs& args, const LoadedConfig& config) {
  auto backend = parse_backend_kind(args.backend.value_or("native"), "--backend");
  if (!backend) return report_error(backend.error().message);
  auto spec = custom_build_from_args(args);
  if (!spec) return report_error(spec.error().message);
  spec->runtime_dependencies = configured_dependencies(config, spec->runtime);
  // The daemon is asked before the (long) root build, so that an unreachable one fails fast.
  std::unique_ptr<DockerAdmin> docker;
  const auto colon = spec->tag.find(':');
  const std::string repo = spec->tag.substr(0, colon);
  const std::string image_tag = colon == std::string::npos ? "latest" : spec->tag.substr(colon + 1);
  if (*backend == BackendKind::kDocker) {
    if (std::any_of(repo.begin(), repo.end(),
                    [](char c) { return std::isupper(static_cast<unsigned char>(c)); }) ||
        image_tag.empty() || image_tag.find(':') != std::string::npos) {
      return report_error(fmt::format(
          "Invalid Docker image name: \"{}\". With --backend docker the tag is <name>[:<tag>] "
          "with a lowercase name",
          spec->tag));
    }
    auto connected = DockerAdmin::connect();
    if (!connected) return report_error(connected.error().message);
    docker = std::move(connected).value();
  }
  if (auto can = rootfs::check_can_build(); !can) return report_error(can.error().message);
  auto session = BuildSession::open(config, "build");
  if (!session) return report_error(session.error().message);
  BuildSession& s = **session;
  auto built = rootfs::build_custom_root(s.context(), *spec);
  s.clear_progress();
  if (!built) {
    if (built.error().code == ECANCELED) {
      const int sig = s.cancelled_signal();
      std::cerr << "[ERR] Cancelled: the unfinished root was removed; the store is unchanged"
                << std::endl;
      return 128 + (sig != 0 ? sig : SIGINT);
    }
    return report_error(built.error().message);
  }
  const auto& m = built->manifest;
  std::string docker_line;
  if (docker) {
    // The same root, imported as the image <tag> (<name>:latest without a ':') with its setup
    // script in a label that the docker backend runs before each request's setup.
    auto id = docker->import_root(built->dir, repo, image_tag, m.runtime,
                                  {m.setup, m.recipe_hash, m.packages});
    if (!id) {
      return report_error(
          fmt::format("The root {} was built ({}) but its import into Docker "
                      "failed: {}",
                      m.name, built->dir.string(), id.error().message));
    }
    docker_line = fmt::format("  Docker:   {}:{} ({})\n", repo, image_tag, id->substr(0, 19));
  }
  std::string setup_line = m.setup.substr(0, m.setup.find('\n'));
  if (m.setup.find('\n') != std::string::npos) setup_line += " ...";
  std::cout << "[DONE] Custom image build complete!\n"
            << "  Runtime:  " << m.runtime << "\n"
            << "  Packages: "
            << (m.packages.empty() ? "(none)" : fmt::format("{}", fmt::join(m.packages, ", ")))
            << "\n"
            << "  Setup:    " << (setup_line.empty() ? "(none)" : setup_line) << "\n"
            << "  Image:    " << m.name << " (" << built->dir.string() << ")\n"
            << docker_line << std::flush;
  return 0;
}

}  // namespace isol8::cli
