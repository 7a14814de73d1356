#pragma once
// What both binaries' main does around the commands (isol8: local native runs; isol8-full:
// everything): the app's frame, the parse and its early exits, the configuration.

#include <optional>
#include <string_view>

#include <CLI/CLI.hpp>

#include "isol8/config.h"
#include "isol8/result.h"

namespace isol8::cli {

inline constexpr const char* kAppDescription =
    "isol8: run untrusted Python, Node.js, Bun, Deno and Bash code in a sandbox";

// Set by isol8 in the environment it hands over to isol8-full with; isol8-full removes it at
// once, so no process it starts sees it.
inline constexpr const char* kHandOverMarker = "ISOL8_HANDED_OVER";

// The program's own options: -V/--version, --debug; at most one command.
void frame_app(CLI::App& app, bool& debug);

// After the commands are added: the help lists them under "Commands:", as upstream's does.
void label_commands(CLI::App& app);

// Parses the command line. A help, the version or a parse error ends the process: the exit code
// is returned then (the text printed), nothing otherwise.
std::optional<int> parse_or_exit(CLI::App& app, int argc, char** argv);

// The command a command line names: its first argument that is not an option (the program's own
// options are all flags, so none takes a value). Empty when there is none.
std::string_view command_named(int argc, char** argv);

// main(): `body`, with an escaped exception turned into "[ERR] internal error: ..." and exit 1
// (the last line of defence: a bug must still end in a clear message).
int run_guarded(int (*body)(int, char**), int argc, char** argv);

// The configuration for the working directory and $HOME.
Result<LoadedConfig> load_config_here();

}  // namespace isol8::cli
