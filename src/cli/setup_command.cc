// isol8 setup [--force] [--runtime a,b]: builds the runtime roots that are missing or outdated
// (recipe hash and the config's dependencies.<runtime>), then the config's prebuiltImages.

#include <signal.h>

#include <algorithm>
#include <iostream>

#include <fmt/format.h>

#include "cli/build_session.h"
#include "cli/commands.h"
#include "isol8/options.h"
#include "rootfs/builder.h"

namespace isol8::cli {
namespace {

Result<std::vector<std::string>> selected_runtimes(const std::vector<std::string>& requested) {
  const auto& all = rootfs::buildable_runtimes();
  if (requested.empty()) return all;
  std::vector<std::string> out;
  for (const auto& r : requested) {
    if (std::find(all.begin(), all.end(), r) == all.end()) {
      return make_error(
          fmt::format("Invalid runtime: {}. Expected one of: python, node, bun, deno, bash", r));
    }
    if (std::find(out.begin(), out.end(), r) == out.end()) out.push_back(r);
  }
  return out;
}

int cancelled(BuildSession& session) {
  session.clear_progress();
  const int sig = session.cancelled_signal();
  std::cerr << "[ERR] Cancelled: the unfinished root was removed; the store is unchanged"
            << std::endl;
  return 128 + (sig != 0 ? sig : SIGINT);
}

}  // namespace

CLI::App* add_setup_command(CLI::App& app, SetupArgs& a) {
  auto* cmd = app.add_subcommand("setup", "Build the runtime root filesystems (needs root)");
  cmd->add_flag("--force", a.force, "Rebuild even when up to date");
  cmd->add_option("--runtime", a.runtimes, "Only these runtimes (comma-separated)")->delimiter(',');
  cmd->add_option("--backend", a.backend,
                  "native (default): build the roots; docker: import the built roots as images");
  cmd->add_option("--store", a.store, "docker: the rootfs store to import from");
  return cmd;
}

int setup_command(const SetupArgs& args, const LoadedConfig& config) {
  auto backend = parse_backend_kind(args.backend.value_or("native"), "--backend");
  if (!backend) return report_error(backend.error().message);
  if (*backend == BackendKind::kDocker) return docker_setup(args, config);
  if (auto can = rootfs::check_can_build(); !can) return report_error(can.error().message);
  auto runtimes = selected_runtimes(args.runtimes);
  if (!runtimes) return report_error(runtimes.error().message);
  auto session = BuildSession::open(config, "setup");
  if (!session) return report_error(session.error().message);
  BuildSession& s = **session;
  std::cout << "Building runtime roots in " << s.store().path().string()
            << " (log: " << s.log_path() << ")" << std::endl;
  bool failed = false;
  for (const auto& rt : *runtimes) {
    auto outcome = rootfs::ensure_runtime_root(s.context(), rt, configured_dependencies(config, rt),
                                               args.force);
    s.clear_progress();
    if (!outcome) {
      if (outcome.error().code == ECANCELED) return cancelled(s);
      std::cout << "[ERR] " << rt << ": " << outcome.error().message << std::endl;
      failed = true;
      continue;
    }
    std::cout << (*outcome == rootfs::SetupOutcome::kUpToDate ? "[OK] " + rt + ": Up to date"
                                                              : "[OK] " + rt)
              << std::endl;
  }
  // Custom roots from the config (only with every runtime, as upstream's setup does).
  if (args.runtimes.empty() && config.json.contains("prebuiltImages")) {
    for (const auto& image : config.json["prebuiltImages"]) {
      rootfs::CustomBuild spec;
      spec.tag = image.value("tag", "");
      spec.runtime = image.value("runtime", "");
      for (const auto& p : image.value("installPackages", std::vector<std::string>{})) {
        spec.packages.push_back(p);
      }
      std::sort(spec.packages.begin(), spec.packages.end());
      spec.packages.erase(std::unique(spec.packages.begin(), spec.packages.end()),
                          spec.packages.end());
      spec.setup = image.value("setupScript", "");
      spec.runtime_dependencies = configured_dependencies(config, spec.runtime);
      spec.force = args.force;
      if (!args.force && s.store().find(spec.tag)) {
        std::cout << "[OK] " << spec.tag << ": Up to date" << std::endl;
        continue;
      }
      auto built = rootfs::build_custom_root(s.context(), spec);
      s.clear_progress();
      if (!built) {
        if (built.error().code == ECANCELED) return cancelled(s);
        std::cout << "[ERR] " << spec.tag << ": " << built.error().message << std::endl;
        failed = true;
        continue;
      }
      std::cout << "[OK] " << spec.tag << std::endl;
    }
  }
  rootfs::prune_bases(s.store());
  if (failed) {
    std::cerr << "[ERR] Setup failed; the build log is " << s.log_path() << std::endl;
    return 1;
  }
  std::cout << "[DONE] Setup complete!" << std::endl;
  return 0;
}

}  // namespace isol8::cli
