#include "cli/command_line.h"

#include <cstdlib>
#include <exception>
#include <filesystem>
#include <iostream>
#include <string>

#include "cli/commands.h"
#include "isol8/version.h"

namespace isol8::cli {

int report_error(const std::string& message) {
  std::cerr << "[ERR] " << message << std::endl;
  return 1;
}

void frame_app(CLI::App& app, bool& debug) {
  app.name("isol8");
  app.set_version_flag("-V,--version", kVersion, "Print the version");
  app.require_subcommand(0, 1);
  app.add_flag("--debug", debug, "Debug logging on stderr");
}

void label_commands(CLI::App& app) {
  for (CLI::App* command : app.get_subcommands({})) command->group("Commands");
  // CLI11 says "Subcommands".
  app.get_formatter()->label("SUBCOMMAND", "COMMAND");
}

std::optional<int> parse_or_exit(CLI::App& app, int argc, char** argv) {
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
  return std::nullopt;
}

std::string_view command_named(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    if (argv[i][0] != '-') return argv[i];
  }
  return {};
}

int run_guarded(int (*body)(int, char**), int argc, char** argv) {
  try {
    return body(argc, argv);
  } catch (const std::exception& e) {
    return report_error(std::string("internal error: ") + e.what());
  }
}

Result<LoadedConfig> load_config_here() {
  std::optional<std::filesystem::path> home;
  if (const char* h = std::getenv("HOME"); h != nullptr && *h != '\0') home = h;
  std::error_code ec;
  auto cwd = std::filesystem::current_path(ec);
  if (ec) cwd = ".";
  return load_config(cwd, home);
}

}  // namespace isol8::cli
