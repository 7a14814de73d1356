#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <filesystem>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include "cli/commands.h"
#include "common/fs_util.h"
#include "common/unique_fd.h"
#include "core/file_collection.h"
#include "core/install_network.h"
#include "core/runtimes.h"
#include "core/sizes.h"
#include "isol8/engine.h"
#include "isol8/json.h"

namespace isol8::cli {
namespace {

void write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // the reader is gone (EPIPE): nothing more to say to it
    data.remove_prefix(static_cast<size_t>(n));
  }
}

Result<std::string> read_all_stdin() {
  std::string out;
  char buf[65536];
  for (;;) {
    const ssize_t n = ::read(STDIN_FILENO, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return errno_error("cannot read code from stdin");
    if (n == 0) return out;
    out.append(buf, static_cast<size_t>(n));
  }
}

Result<NetworkMode> parse_network(const std::string& value) {
  if (value == "none") return NetworkMode::kNone;
  if (value == "host") return NetworkMode::kHost;
  if (value == "filtered") return NetworkMode::kFiltered;
  return make_error(
      fmt::format("Invalid --net value: \"{}\". Expected one of: none, host, filtered", value));
}

// SIGINT and SIGTERM become readable events on a signalfd that the engine watches: the sandbox
// is killed and cleaned up, then we exit 130 or 143.
class TerminationSignals {
 public:
  TerminationSignals() {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    ::sigprocmask(SIG_BLOCK, &set, nullptr);
    fd_.reset(::signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK));
  }
  int fd() const { return fd_.get(); }
  // The signal that arrived, or 0.
  int received() const {
    signalfd_siginfo info{};
    if (!fd_ || ::read(fd_.get(), &info, sizeof info) != sizeof info) return 0;
    return static_cast<int>(info.ssi_signo);
  }

 private:
  UniqueFd fd_;
};

Result<ExecutionRequest> build_request(const RunArgs& args) {
  ExecutionRequest req;
  if (args.cmd) {
    if (args.eval || !args.file.empty()) {
      return make_error(
          "--cmd cannot be combined with file input, --eval, --url, --github, or --gist.");
    }
    req.cmd = *args.cmd;
    req.runtime = args.runtime.value_or("bash");
  } else if (args.eval) {
    req.code = *args.eval;
    req.runtime = args.runtime.value_or("python");
  } else if (!args.file.empty()) {
    std::error_code ec;
    if (!std::filesystem::is_regular_file(args.file, ec)) {
      return make_error("File not found: " + args.file);
    }
    auto code = read_file(args.file);
    if (!code) return std::move(code).error();
    req.code = std::move(code).value();
    if (args.runtime) {
      req.runtime = *args.runtime;
    } else {
      const Runtime* rt = detect_runtime(args.file);
      if (rt == nullptr) {
        return make_error(
            fmt::format("Cannot detect runtime for {}. Use --runtime to specify.", args.file));
      }
      req.runtime = std::string(rt->name);
    }
    req.file_extension = file_extension(args.file);
  } else {
    auto code = read_all_stdin();
    if (!code) return std::move(code).error();
    req.code = std::move(code).value();
    req.runtime = args.runtime.value_or("python");
  }
  req.stdin_data = args.stdin_data;
  req.workdir = args.workdir;
  // Upstream: a value naming an existing file contributes the file's content, any other value
  // is the command itself; the parts are joined by newlines.
  for (const std::string& part : args.setup) {
    std::error_code ec;
    std::string piece = part;
    if (std::filesystem::is_regular_file(part, ec)) {
      auto content = read_file(part);
      if (!content) return std::move(content).error().context("reading --setup file");
      piece = std::move(content).value();
    }
    req.setup_script += (req.setup_script.empty() ? "" : "\n") + piece;
  }
  req.timeout_ms = args.timeout_ms;
  return req;
}

Result<Options> build_options(const RunArgs& args, const LoadedConfig& config) {
  auto opts = options_from_config(config.json);
  if (!opts) return opts;
  Options& o = *opts;
  if (args.net) {
    auto net = parse_network(*args.net);
    if (!net) return std::move(net).error();
    o.network = *net;
  }
  if (args.backend) {
    if (*args.backend == "native") {
      o.backend = BackendKind::kNative;
    } else if (*args.backend == "docker") {
      o.backend = BackendKind::kDocker;
    } else {
      return make_error(fmt::format(
          "Invalid --backend value: \"{}\". Expected one of: native, docker", *args.backend));
    }
  }
  if (!args.allow.empty()) o.network_filter.whitelist = args.allow;
  if (!args.deny.empty()) o.network_filter.blacklist = args.deny;
  o.log_network = o.log_network || args.log_network;
  // One run per CLI process: a warm pool would only cost a container start nobody uses.
  o.pool_size = PoolSize{0, 0};
  if (args.image) {
    o.image = *args.image;
  }
  if (args.memory) o.memory_limit = *args.memory;
  if (args.cpu) o.cpu_limit = *args.cpu;
  if (args.pids_limit) o.pids_limit = *args.pids_limit;
  if (args.max_output) o.max_output_size = *args.max_output;
  if (args.sandbox_size) o.sandbox_size = *args.sandbox_size;
  if (args.tmp_size) o.tmp_size = *args.tmp_size;
  for (const auto& entry : args.secrets) {
    const auto eq = entry.find('=');
    if (eq == std::string::npos || eq == 0) {
      return make_error(fmt::format("Invalid --secret \"{}\". Use KEY=VALUE.", entry));
    }
    o.secrets[entry.substr(0, eq)] = entry.substr(eq + 1);
  }
  o.debug = o.debug || args.debug;
  return opts;
}

int finish_run(const ExecutionResult& result, const RunArgs& args, int signal_received) {
  if (args.out) {
    if (auto written = write_file(*args.out, result.stdout_data); !written) {
      return report_error(written.error().message);
    }
  }
  if (signal_received != 0) return 128 + signal_received;
  return result.exit_code & 0xFF;
}

}  // namespace

CLI::App* add_run_command(CLI::App& app, RunArgs& a) {
  auto* run = app.add_subcommand("run", "Execute code in a sandbox");
  run->add_option("file", a.file, "Script to run; the runtime follows from its extension");
  run->add_option("-e,--eval", a.eval, "Inline code (default runtime: python)");
  run->add_option("--cmd", a.cmd, "Run a shell command with bash -c (default runtime: bash)");
  run->add_option("-r,--runtime", a.runtime, "python, node, bun, deno or bash");
  run->add_option("--net", a.net, "Network: none (default), host or filtered");
  run->add_option("--backend", a.backend, "native (default) or docker");
  run->add_option("--timeout", a.timeout_ms, "Execution timeout in ms (default 30000)")
      ->check(CLI::PositiveNumber);
  run->add_option("--memory", a.memory, "Memory limit, e.g. 512m or 1g");
  run->add_option("--cpu", a.cpu, "CPU limit in cores (default 1.0)")->check(CLI::PositiveNumber);
  run->add_option("--pids-limit", a.pids_limit, "Maximum number of processes (default 64)")
      ->check(CLI::PositiveNumber);
  run->add_option("--max-output", a.max_output, "Output cap per stream in bytes (default 1 MiB)")
      ->check(CLI::PositiveNumber);
  run->add_option("--secret", a.secrets, "KEY=VALUE: an env var whose value is masked as ***");
  run->add_option("--sandbox-size", a.sandbox_size, "Size of the /sandbox tmpfs (default 512m)");
  run->add_option("--tmp-size", a.tmp_size, "Size of the /tmp tmpfs (default 256m)");
  run->add_option("--stdin", a.stdin_data, "Data piped to the program's stdin");
  run->add_option("--workdir", a.workdir, "Working directory inside /sandbox");
  run->add_option("--out", a.out, "Also write the program's stdout to this file");
  run->add_option("--image", a.image,
                  "Root (native: from the rootfs store) or Docker image to run in, e.g. "
                  "isol8:python or a custom tag");
  run->add_option("--setup", a.setup,
                  "Setup command run before the code (repeatable; a file path is read)");
  run->add_option("--files", a.files_dir,
                  "Copy a local directory into /sandbox (skips .git, node_modules, venvs)");
  run->add_option("--allow", a.allow, "Host regex the filtered network allows (repeatable)")
      ->allow_extra_args(false);
  run->add_option("--deny", a.deny, "Host regex the filtered network blocks (repeatable)")
      ->allow_extra_args(false);
  run->add_flag("--log-network", a.log_network,
                "Collect the filtered network's requests (printed with --no-stream)");
  run->add_flag("--no-stream", a.no_stream, "Print the output when the run ends");
  run->add_flag("--json", a.json, "Print the result as one JSON object (implies --no-stream)");
  run->add_flag("--debug", a.debug, "Debug logging on stderr");
  run->add_option("--install", a.install,
                  "Install a runtime package before the run (repeatable); without --net the "
                  "network becomes filtered with the runtime's registry allowed")
      ->allow_extra_args(false);
  for (const char* name : {"--url", "--github", "--gist", "--hash", "--host", "--key",
                           "--session-id", "--agent-flags"}) {
    a.unsupported.emplace_back(name, false);
    run->add_option_function<std::vector<std::string>>(
        name,
        [&a, n = std::string(name)](const std::vector<std::string>&) {
          for (auto& [flag, used] : a.unsupported) used = used || flag == n;
        },
        "Not supported yet by this version");
  }
  for (const char* name : {"--persistent", "--persist", "--allow-insecure-code-url"}) {
    a.unsupported.emplace_back(name, false);
    run->add_flag_callback(
        name,
        [&a, n = std::string(name)] {
          for (auto& [flag, used] : a.unsupported) used = used || flag == n;
        },
        "Not supported yet by this version");
  }
  return run;
}

int run_command(const RunArgs& args, const LoadedConfig& config) {
  for (const auto& [flag, used] : args.unsupported) {
    if (used) return report_error(flag + " is not supported yet by this version of isol8.");
  }
  auto options = build_options(args, config);
  if (!options) return report_error(options.error().message);
  if (options->debug) spdlog::set_level(spdlog::level::debug);
  auto request = build_request(args);
  if (!request) return report_error(request.error().message);
  request->install_packages = args.install;
  // Upstream: --install without --net means filtered, with the registry allowed.
  apply_install_network(*options, *request, args.net.has_value());
  if (!args.install.empty() && !args.net) {
    spdlog::debug("--install without --net: network filtered, whitelist [{}]",
                  fmt::join(options->network_filter.whitelist, ", "));
  }
  if (args.files_dir) {
    auto limit = parse_size(options->sandbox_size);
    if (!limit) return report_error(limit.error().message);
    auto collected = collect_files(*args.files_dir, *limit);
    if (!collected) return report_error(collected.error().message);
    for (const auto& link : collected->skipped_links) {
      spdlog::warn("--files: not following symlink {}: it leads outside {}", link, *args.files_dir);
    }
    request->files = std::move(collected->files);
  }
  auto engine = Engine::create(*options);
  if (!engine) return report_error(engine.error().message);

  TerminationSignals signals;
  const RunControl control{signals.fd()};
  const bool buffered = args.no_stream || args.json;

  if (buffered) {
    auto result = (*engine)->execute(*request, control);
    if (!result) return report_error(result.error().message);
    if (args.json) {
      write_all(
          STDOUT_FILENO,
          to_json(*result).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n");
    } else {
      if (!result->stdout_data.empty()) write_all(STDOUT_FILENO, result->stdout_data + "\n");
      if (!result->stderr_data.empty()) write_all(STDERR_FILENO, result->stderr_data + "\n");
      if (result->truncated) spdlog::warn("Output was truncated");
      if (!result->network_logs.empty()) {
        std::string logs = "--- Network Logs ---\n";
        for (const auto& entry : result->network_logs) logs += to_json(entry).dump() + "\n";
        write_all(STDERR_FILENO, logs);
      }
    }
    return finish_run(*result, args, signals.received());
  }

  bool error_event = false;
  auto on_event = [&](const StreamEvent& e) {
    switch (e.type) {
      case StreamEvent::Type::kStdout:
        write_all(STDOUT_FILENO, e.data);
        break;
      case StreamEvent::Type::kStderr:
        write_all(STDERR_FILENO, e.data);
        break;
      case StreamEvent::Type::kError:
        error_event = true;
        if (e.data == kTimedOutEvent) {
          write_all(STDERR_FILENO, fmt::format("\n{}\n", kTimedOutMarker));
        } else {
          write_all(STDERR_FILENO, "[ERR] " + e.data + "\n");
        }
        break;
      case StreamEvent::Type::kExit:
        break;
    }
  };
  auto result = (*engine)->execute_stream(*request, on_event, control);
  if (!result) return error_event ? 1 : report_error(result.error().message);
  return finish_run(*result, args, signals.received());
}

}  // namespace isol8::cli
