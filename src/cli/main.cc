// isol8: run untrusted code in a sandbox. A thin layer over the library (include/isol8).

#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <iostream>

#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include "cli/commands.h"
#include "cli/logging.h"
#include "common/trace.h"
#include "isol8/config.h"
#include "isol8/version.h"

namespace isol8::cli {

int report_error(const std::string& message) {
  std::cerr << "[ERR] " << message << std::endl;
  return 1;
}

namespace {

Result<LoadedConfig> load() {
  std::optional<std::filesystem::path> home;
  if (const char* h = std::getenv("HOME"); h != nullptr && *h != '\0') home = h;
  std::error_code ec;
  auto cwd = std::filesystem::current_path(ec);
  if (ec) cwd = ".";
  return load_config(cwd, home);
}

int run_main(int argc, char** argv) {
  trace::mark("main");
  // A closed stdout must not kill the runner before it cleans up; writes just fail with EPIPE.
  ::signal(SIGPIPE, SIG_IGN);

  CLI::App app{"isol8: run untrusted Python, Node.js, Bun, Deno and Bash code in a sandbox"};
  app.name("isol8");
  app.set_version_flag("-V,--version", kVersion, "Print the version");
  app.require_subcommand(0, 1);
  bool debug = false;
  app.add_flag("--debug", debug, "Debug logging on stderr");

  RunArgs run_args;
  ConfigArgs config_args;
  CLI::App* run = add_run_command(app, run_args);
  CLI::App* config = add_config_command(app, config_args);
  DoctorArgs doctor_args;
  CLI::App* doctor = add_doctor_command(app, doctor_args);
  SetupArgs setup_args;
  CLI::App* setup = add_setup_command(app, setup_args);
  CleanupArgs cleanup_args;
  CLI::App* cleanup = add_cleanup_command(app, cleanup_args);
  BuildArgs build_args;
  CLI::App* build = add_build_command(app, build_args);
  CLI::App* list_custom = add_list_custom_command(app);
  RootfsArgs rootfs_args;
  CLI::App* rootfs = add_rootfs_command(app, rootfs_args);
  RemoteArgs remote_args;
  add_remote_commands(app, remote_args);
  ServeArgs serve_args;
  CLI::App* serve = add_serve_command(app, serve_args);
  // The help lists them under "Commands:", as upstream's does (CLI11 says "Subcommands").
  for (CLI::App* command : app.get_subcommands({})) command->group("Commands");
  app.get_formatter()->label("SUBCOMMAND", "COMMAND");

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion&) {
    std::cout << kVersion << std::endl;
    return 0;
  } catch (const CLI::ParseError& e) {
    return report_error(std::string(e.what()) + " (see isol8 --help)");
  }
  trace::mark("command line parsed");
  setup_logging(debug || run_args.debug || serve_args.debug);

  if (app.get_subcommands().empty()) {
    std::cout << app.help();
    return 0;
  }
  if (doctor->parsed()) return doctor_command(doctor_args, load());
  if (cleanup->parsed()) return cleanup_command(cleanup_args);
  if (remote_command_parsed(remote_args)) return remote_command(remote_args);
  auto loaded = load();
  if (!loaded) {
    return run->parsed() ? report_run_error(run_args, loaded.error().message)
                         : report_error(loaded.error().message);
  }
  trace::mark("config loaded");
  if (run->parsed()) return run_command(run_args, *loaded);
  if (config->parsed()) return config_command(config_args, *loaded);
  if (setup->parsed()) return setup_command(setup_args, *loaded);
  if (build->parsed()) return build_command(build_args, *loaded);
  if (list_custom->parsed()) return list_custom_command(*loaded);
  if (rootfs->parsed()) return rootfs_command(rootfs_args, *loaded);
  if (serve->parsed()) return serve_command(serve_args, *loaded);
  std::cout << app.help();
  return 0;
}

}  // namespace
}  // namespace isol8::cli

int main(int argc, char** argv) {
  try {
    return isol8::cli::run_main(argc, argv);
  } catch (const std::exception& e) {
    // The last line of defence: a bug must still end in a clear message and exit 1.
    return isol8::cli::report_error(std::string("internal error: ") + e.what());
  }
}
