// isol8: run untrusted code in a sandbox. A thin layer over the library (include/isol8).
//
// This binary starts for every `isol8 run`, so it holds only what a local run with the native
// backend needs: no docker backend, server, client, TLS or archive libraries, whose loading and
// relocation cost about 0.8 ms of every run (docs/benchmarks.md). Every other command, and a run
// for the docker backend or a server (--host), is handed to isol8-full with the same command line
// (execv: same process, same streams, its exit status).

#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <utility>

#include <CLI/CLI.hpp>

#include "cli/command_line.h"
#include "cli/commands.h"
#include "cli/logging.h"
#include "common/companion_binaries.h"
#include "common/trace.h"

namespace isol8::cli {
namespace {

// Replaces this process with isol8-full and the same command line. Returns only when that
// fails, with the message to report.
std::string hand_over_to_full_binary(char** argv) {
  auto full = find_full_binary();
  if (!full) return full.error().message;
  // isol8-full removes the marker first thing; a binary that finds it is an isol8 installed as
  // (or linked to by) isol8-full, a packaging mistake that would otherwise hand over forever.
  if (std::getenv(kHandOverMarker) != nullptr) {
    return full->string() + " is not isol8-full but a copy of isol8; reinstall isol8";
  }
  ::setenv(kHandOverMarker, "1", 1);
  ::execv(full->c_str(), argv);
  const int error = errno;
  ::unsetenv(kHandOverMarker);
  return "cannot run " + full->string() + ": " + std::strerror(error);
}

int run_main(int argc, char** argv) {
  trace::mark("main");
  if (command_named(argc, argv) != "run") return report_error(hand_over_to_full_binary(argv));
  // A closed stdout must not kill the runner before it cleans up; writes just fail with EPIPE.
  ::signal(SIGPIPE, SIG_IGN);

  CLI::App app{kAppDescription};
  bool debug = false;
  frame_app(app, debug);
  RunArgs run_args;
  add_run_command(app, run_args);
  label_commands(app);
  if (auto exit_code = parse_or_exit(app, argc, argv)) return *exit_code;
  trace::mark("command line parsed");
  setup_logging(debug || run_args.debug);

  auto loaded = load_config_here();
  if (!loaded) return report_run_error(run_args, loaded.error().message);
  auto options = build_run_options(run_args, *loaded);
  if (!is_local_native_run(run_args, options)) {
    return report_run_error(run_args, hand_over_to_full_binary(argv));
  }
  trace::mark("config loaded");
  const int exit_code = run_command(run_args, std::move(options), &make_native_run_engine);
  // The run is over and run_command has released everything it held (the engine, the sandbox,
  // its cgroup and network). What is left in this frame is memory: the parser, the arguments and
  // the config. Leaving from here spares taking them apart, about 0.15 ms of every run; std::exit
  // still flushes stdio and runs the static destructors (the logger's flush).
  std::exit(exit_code);
}

}  // namespace
}  // namespace isol8::cli

int main(int argc, char** argv) {
  return isol8::cli::run_guarded(&isol8::cli::run_main, argc, argv);
}
