// isol8-full: every command of isol8. The isol8 binary runs local native runs itself and hands
// everything else here (main.cc), with the same command line.

#include <signal.h>

#include <algorithm>
#include <cstdlib>
#include <iostream>
#include <iterator>
#include <string_view>

#include <CLI/CLI.hpp>

#include "cli/command_line.h"
#include "cli/commands.h"
#include "cli/logging.h"
#include "common/trace.h"
#include "isol8/config.h"

namespace isol8::cli {
namespace {

constexpr std::string_view kCommands[] = {"run",     "config", "doctor",      "setup",
                                          "cleanup", "build",  "list-custom", "rootfs",
                                          "login",   "logout", "session",     "serve"};

bool parsed(const CLI::App* command) { return command != nullptr && command->parsed(); }

int run_main(int argc, char** argv) {
  trace::mark("main");
  ::unsetenv(kHandOverMarker);
  // A closed stdout must not kill the runner before it cleans up; writes just fail with EPIPE.
  ::signal(SIGPIPE, SIG_IGN);

  CLI::App app{kAppDescription};
  bool debug = false;
  frame_app(app, debug);

  // Only the command the line names is registered (building all of them costs a tenth of a
  // millisecond); every command when it names none or an unknown one, so that the help and the
  // errors list them all.
  const std::string_view named = command_named(argc, argv);
  const bool all =
      std::find(std::begin(kCommands), std::end(kCommands), named) == std::end(kCommands);
  auto wanted = [&](std::string_view name) { return all || named == name; };
  RunArgs run_args;
  ConfigArgs config_args;
  DoctorArgs doctor_args;
  SetupArgs setup_args;
  CleanupArgs cleanup_args;
  BuildArgs build_args;
  RootfsArgs rootfs_args;
  RemoteArgs remote_args;
  ServeArgs serve_args;
  CLI::App* run = wanted("run") ? add_run_command(app, run_args) : nullptr;
  CLI::App* config = wanted("config") ? add_config_command(app, config_args) : nullptr;
  CLI::App* doctor = wanted("doctor") ? add_doctor_command(app, doctor_args) : nullptr;
  CLI::App* setup = wanted("setup") ? add_setup_command(app, setup_args) : nullptr;
  CLI::App* cleanup = wanted("cleanup") ? add_cleanup_command(app, cleanup_args) : nullptr;
  CLI::App* build = wanted("build") ? add_build_command(app, build_args) : nullptr;
  CLI::App* list_custom = wanted("list-custom") ? add_list_custom_command(app) : nullptr;
  CLI::App* rootfs = wanted("rootfs") ? add_rootfs_command(app, rootfs_args) : nullptr;
  const bool remote = wanted("login") || wanted("logout") || wanted("session");
  if (remote) add_remote_commands(app, remote_args);
  CLI::App* serve = wanted("serve") ? add_serve_command(app, serve_args) : nullptr;
  label_commands(app);

  if (auto exit_code = parse_or_exit(app, argc, argv)) return *exit_code;
  trace::mark("command line parsed");
  setup_logging(debug || run_args.debug || serve_args.debug);

  if (app.get_subcommands().empty()) {
    std::cout << app.help();
    return 0;
  }
  if (parsed(doctor)) return doctor_command(doctor_args, load_config_here());
  if (parsed(cleanup)) return cleanup_command(cleanup_args);
  if (remote && remote_command_parsed(remote_args)) return remote_command(remote_args);
  auto loaded = load_config_here();
  if (!loaded) {
    return parsed(run) ? report_run_error(run_args, loaded.error().message)
                       : report_error(loaded.error().message);
  }
  trace::mark("config loaded");
  if (parsed(run)) {
    return run_command(run_args, build_run_options(run_args, *loaded), &make_any_run_engine);
  }
  if (parsed(config)) return config_command(config_args, *loaded);
  if (parsed(setup)) return setup_command(setup_args, *loaded);
  if (parsed(build)) return build_command(build_args, *loaded);
  if (parsed(list_custom)) return list_custom_command(*loaded);
  if (parsed(rootfs)) return rootfs_command(rootfs_args, *loaded);
  if (parsed(serve)) return serve_command(serve_args, *loaded);
  std::cout << app.help();
  return 0;
}

}  // namespace
}  // namespace isol8::cli

int main(int argc, char** argv) {
  return isol8::cli::run_guarded(&isol8::cli::run_main, argc, argv);
}
