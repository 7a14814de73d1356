#include <fmt/format.h>

#include "cli/commands.h"
#include "core/diagnostics.h"

namespace isol8::cli {

CLI::App* add_doctor_command(CLI::App& app, DoctorArgs& args) {
  auto* cmd = app.add_subcommand("doctor", "Check what this host offers the native backend");
  cmd->add_flag("--json", args.json, "Print the checks as JSON");
  return cmd;
}

int doctor_command(const DoctorArgs& args, const Result<LoadedConfig>& config) {
  Options options;
  std::vector<Check> checks;
  if (!config) {
    checks.push_back({Check::Level::kFail, "config", config.error().message});
  } else if (auto configured = options_from_config(config->json); !configured) {
    checks.push_back({Check::Level::kFail, "config", configured.error().message});
  } else {
    options = std::move(configured).value();
  }
  for (auto& c : run_diagnostics(options)) checks.push_back(std::move(c));
  bool failed = false;
  for (const auto& c : checks) failed = failed || c.level == Check::Level::kFail;
  if (args.json) {
    fmt::print("{}\n", to_json(checks).dump(2));
  } else {
    for (const auto& c : checks) {
      fmt::print("{:<7} {:<26} {}\n", fmt::format("[{}]", to_string(c.level)), c.name, c.detail);
    }
    fmt::print("\n{}\n", failed ? "The native backend cannot run on this host (see [FAIL] above)."
                                : "The native backend can run on this host.");
  }
  return failed ? 1 : 0;
}

}  // namespace isol8::cli
