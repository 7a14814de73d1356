#include <unistd.h>

#include <cerrno>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <filesystem>
#include <iostream>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include "cli/commands.h"
#include "cli/console_output.h"
#include "cli/run_interrupts.h"
#include "common/fs_util.h"
#include "common/trace.h"
#include "core/file_collection.h"
#include "core/install_network.h"
#include "core/remote_code_source.h"
#include "core/runtimes.h"
#include "isol8/engine.h"
#include "isol8/json.h"
#include "isol8/options.h"

namespace isol8::cli {
namespace {

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

bool blank(const std::string& text) {
  return std::all_of(text.begin(), text.end(),
                     [](unsigned char c) { return std::isspace(c) != 0; });
}

// The CLI's word for what the library reports as "ExecutionRequest must include exactly one of:
// code, codeUrl, or cmd.": what to do instead.
constexpr const char* kNoCode = "no code to run: give -e, a file, --cmd, or pipe code on stdin";

// --url, or the raw URL --github / --gist stand for (upstream's), or nullopt without any.
Result<std::optional<std::string>> code_url_of(const RunArgs& args) {
  if (args.url) return std::optional<std::string>(*args.url);
  auto parts = [](const std::string& text) {
    std::vector<std::string> out;
    size_t start = 0;
    for (;;) {
      const size_t slash = text.find('/', start);
      out.push_back(text.substr(start, slash - start));
      if (slash == std::string::npos) return out;
      start = slash + 1;
    }
  };
  auto any_empty = [](const std::vector<std::string>& v) {
    return std::any_of(v.begin(), v.end(), [](const std::string& p) { return p.empty(); });
  };
  if (args.github) {
    const auto p = parts(*args.github);
    if (p.size() < 4 || any_empty(p)) {
      return make_error("--github format must be owner/repo/ref/path/to/file");
    }
    return std::optional<std::string>("https://raw.githubusercontent.com/" + *args.github);
  }
  if (args.gist) {
    const auto p = parts(*args.gist);
    if (p.size() != 2 || any_empty(p)) return make_error("--gist format must be gistId/file.ext");
    return std::optional<std::string>("https://gist.githubusercontent.com/" + p[0] + "/raw/" +
                                      p[1]);
  }
  return std::optional<std::string>();
}

Result<ExecutionRequest> build_request(const RunArgs& args) {
  ExecutionRequest req;
  const bool remote = args.url || args.github || args.gist;
  if (args.cmd) {
    if (args.eval || !args.file.empty() || remote) {
      return make_error(
          "--cmd cannot be combined with file input, --eval, --url, --github, or --gist.");
    }
    if (blank(*args.cmd)) return make_error(kNoCode);
    req.cmd = *args.cmd;
    req.runtime = args.runtime.value_or("bash");
  } else if (remote) {
    if (args.eval || !args.file.empty()) {
      return make_error("--url/--github/--gist cannot be used with file input or --eval.");
    }
    auto url = code_url_of(args);
    if (!url) return std::move(url).error();
    req.code_url = **url;
    req.code_hash = args.hash;
    req.allow_insecure_code_url = args.allow_insecure_code_url;
    if (args.runtime) {
      req.runtime = *args.runtime;
    } else if (auto runtime = runtime_from_url_path(*req.code_url)) {
      req.runtime = *runtime;
    } else {
      return make_error("Cannot detect runtime from URL path");
    }
  } else if (args.eval) {
    if (blank(*args.eval)) return make_error(kNoCode);
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
    if (blank(*code)) return make_error(kNoCode);
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
  if (args.timeout_ms) {
    auto timeout = parse_timeout_ms(*args.timeout_ms, "--timeout");
    if (!timeout) return std::move(timeout).error();
    req.timeout_ms = *timeout;
  }
  return req;
}

// A flag's value, when given, parsed and range-checked into `out`.
template <class T, class Parser>
Result<void> parse_flag(const std::optional<std::string>& value, std::string_view flag,
                        Parser parse, T& out) {
  if (!value) return ok();
  auto parsed = parse(*value, flag);
  if (!parsed) return std::move(parsed).error();
  out = *parsed;
  return ok();
}

// Limits above what this host has are allowed (the Docker daemon may be elsewhere, the host may
// grow) but almost certainly a typo: say so.
void warn_above_host(const Options& o) {
  const long pages = ::sysconf(_SC_PHYS_PAGES);
  const long page_size = ::sysconf(_SC_PAGESIZE);
  if (pages > 0 && page_size > 0) {
    const uint64_t host = static_cast<uint64_t>(pages) * static_cast<uint64_t>(page_size);
    if (o.memory_limit_bytes > host) {
      spdlog::warn("the memory limit {} is more than this host's memory ({} bytes)",
                   format_size(o.memory_limit_bytes), host);
    }
  }
  const long cpus = ::sysconf(_SC_NPROCESSORS_ONLN);
  if (cpus > 0 && o.cpu_limit > static_cast<double>(cpus)) {
    spdlog::warn("the CPU limit {} is more than this host's {} CPUs", o.cpu_limit, cpus);
  }
}

// ISOL8_PERSIST_LIFETIME: how many seconds a native sandbox kept by --persist stays (default
// 3600); the tests shorten it.
Result<std::chrono::seconds> persist_lifetime(std::chrono::seconds fallback) {
  const char* env = std::getenv("ISOL8_PERSIST_LIFETIME");
  if (env == nullptr || *env == '\0') return fallback;
  const std::string text(env);
  if (text.size() > 9 || !std::all_of(text.begin(), text.end(), ::isdigit) ||
      std::stol(text) == 0) {
    return make_error(
        "ISOL8_PERSIST_LIFETIME must be a number of seconds from 1 to 999999999, not \"" + text +
        "\"");
  }
  return std::chrono::seconds(std::stol(text));
}

}  // namespace

Result<Options> build_run_options(const RunArgs& args, const LoadedConfig& config) {
  auto opts = options_from_config(config.json);
  if (!opts) return opts;
  Options& o = *opts;
  if (args.persistent) o.mode = EngineMode::kPersistent;
  o.persist = o.persist || args.persist;
  if (o.persist) {
    auto lifetime = persist_lifetime(o.persist_lifetime);
    if (!lifetime) return std::move(lifetime).error();
    o.persist_lifetime = *lifetime;
  }
  if (args.net) {
    auto net = parse_network_mode(*args.net, "--net");
    if (!net) return std::move(net).error();
    o.network = *net;
  }
  if (args.backend) {
    auto backend = parse_backend_kind(*args.backend, "--backend");
    if (!backend) return std::move(backend).error();
    o.backend = *backend;
  }
  ISOL8_TRY(check_host_patterns(args.allow, "--allow"));
  ISOL8_TRY(check_host_patterns(args.deny, "--deny"));
  if (!args.allow.empty()) o.network_filter.whitelist = args.allow;
  if (!args.deny.empty()) o.network_filter.blacklist = args.deny;
  o.log_network = o.log_network || args.log_network;
  // One run per CLI process: a warm pool would only cost a container start nobody uses.
  o.pool_size = PoolSize{0, 0};
  // ...but the cgroups of one-run sandboxes are kept for the next process (cgroup v1; see
  // CgroupRoots::slot_count): as many as runs happen at once on the host, up to this many.
  o.native.cgroup_slots = 16;
  // ...and so is the network namespace of a --net none run, made by the run before it.
  o.native.netns_slots = 16;
  if (args.image) {
    o.image = *args.image;
  }
  ISOL8_TRY(parse_flag(args.memory, "--memory", parse_memory_limit, o.memory_limit_bytes));
  ISOL8_TRY(parse_flag(args.cpu, "--cpu", parse_cpu_limit, o.cpu_limit));
  ISOL8_TRY(parse_flag(args.pids_limit, "--pids-limit", parse_pids_limit, o.pids_limit));
  ISOL8_TRY(parse_flag(args.max_output, "--max-output", parse_max_output, o.max_output_size));
  ISOL8_TRY(
      parse_flag(args.sandbox_size, "--sandbox-size", parse_tmpfs_size, o.sandbox_size_bytes));
  ISOL8_TRY(parse_flag(args.tmp_size, "--tmp-size", parse_tmpfs_size, o.tmp_size_bytes));
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

namespace {

// Everything or until the reader is gone (an error object printed before any run started).
void write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    data.remove_prefix(static_cast<size_t>(n));
  }
}

// One line of JSON; invalid UTF-8 in the program's output is replaced, never a throw.
std::string to_json_line(const nlohmann::json& value) {
  return value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

// --out: the program's stdout (as the result has it) into a file.
Result<void> write_out_file(const RunArgs& args, const ExecutionResult& result) {
  if (!args.out) return ok();
  return write_file(*args.out, result.stdout_data);
}

// The program's exit code, unless the run was ended from outside: by a signal (130, 143) or by
// the reader of our output going away (141: what a process that writes to a pipe nobody reads
// any more exits with, as does one killed for it).
int exit_status(const ExecutionResult& result, const RunInterrupts& interrupts) {
  if (const int signal = interrupts.received_signal(); signal != 0) return 128 + signal;
  if (interrupts.write_failed()) return kClosedOutputExit;
  if (result.status == RunStatus::kKilled && interrupts.reader_lost()) return kClosedOutputExit;
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
  run->add_option("--timeout", a.timeout_ms,
                  "Execution timeout in ms, 1 to 86400000 (default 30000)");
  run->add_option("--memory", a.memory, "Memory limit, 6m to 1t, e.g. 512m or 1g (default 512m)");
  run->add_option("--cpu", a.cpu, "CPU limit in cores, 0.01 to 1024 (default 1.0)");
  run->add_option("--pids-limit", a.pids_limit,
                  "Maximum number of processes, 1 to 4194304 (default 64)");
  run->add_option("--max-output", a.max_output,
                  "Output cap per stream in bytes, 1 to 1073741824 (default 1 MiB)");
  run->add_option("--secret", a.secrets, "KEY=VALUE: an env var whose value is masked as ***");
  run->add_option("--sandbox-size", a.sandbox_size,
                  "Size of the /sandbox tmpfs, 1m to 1t (default 512m)");
  run->add_option("--tmp-size", a.tmp_size, "Size of the /tmp tmpfs, 1m to 1t (default 256m)");
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
  run->add_option("--host", a.host, "Run on an isol8 server (http://host:port) instead of here");
  run->add_option("--key", a.key,
                  "The server's API key (default: ISOL8_API_KEY, then isol8 login's credentials)");
  run->add_option("--session-id", a.session_id,
                  "Run in this server session (kept after the run; needs --host)");
  run->add_option("--url", a.url, "Fetch the code from this URL (remoteCode.* config)");
  run->add_option("--github", a.github, "Fetch the code from GitHub: owner/repo/ref/path/to/file");
  run->add_option("--gist", a.gist, "Fetch the code from a gist: gistId/file.ext");
  run->add_option("--hash", a.hash, "Expected SHA-256 (hex) of the fetched code");
  run->add_flag("--allow-insecure-code-url", a.allow_insecure_code_url,
                "Allow an http:// code URL (remoteCode.allowedSchemes must list http)");
  for (const char* name : {"--agent-flags"}) {
    a.unsupported.emplace_back(name, false);
    run->add_option_function<std::vector<std::string>>(
        name,
        [&a, n = std::string(name)](const std::vector<std::string>&) {
          for (auto& [flag, used] : a.unsupported) used = used || flag == n;
        },
        "Not supported yet by this version");
  }
  run->add_flag("--persistent", a.persistent,
                "Run in a persistent sandbox (removed when the run ends; sessions that outlive "
                "a run need a server)");
  run->add_flag("--persist", a.persist,
                "Keep the sandbox after the run for inspection (prints how to reach and remove "
                "it; a native one ends by itself after ISOL8_PERSIST_LIFETIME seconds, 3600)");
  return run;
}

bool is_local_native_run(const RunArgs& args, const Result<Options>& options) {
  // Options that do not build give the same error wherever the run is; this binary reports it.
  return !args.host && (!options || options->backend == BackendKind::kNative);
}

int report_run_error(const RunArgs& args, const std::string& message) {
  if (args.json) write_all(STDOUT_FILENO, to_json_line(nlohmann::json{{"error", message}}));
  return report_error(message);
}

int run_command(const RunArgs& args, Result<Options> options, RunEngineMaker make_engine) {
  auto fail = [&args](const std::string& message) { return report_run_error(args, message); };
  for (const auto& [flag, used] : args.unsupported) {
    if (used) return fail(flag + " is not supported yet by this version of isol8.");
  }
  if (!options) return fail(options.error().message);
  if (options->debug) spdlog::set_level(spdlog::level::debug);
  warn_above_host(*options);
  auto request = build_request(args);
  if (!request) return fail(request.error().message);
  request->install_packages = args.install;
  // Upstream: --install without --net means filtered, with the registry allowed.
  apply_install_network(*options, *request, args.net.has_value());
  if (!args.install.empty() && !args.net) {
    spdlog::debug("--install without --net: network filtered, whitelist [{}]",
                  fmt::join(options->network_filter.whitelist, ", "));
  }
  if (args.files_dir) {
    auto collected = collect_files(*args.files_dir, options->sandbox_size_bytes);
    if (!collected) return fail(collected.error().message);
    for (const auto& link : collected->skipped_links) {
      spdlog::warn("--files: not following symlink {}: it leads outside {}", link, *args.files_dir);
    }
    request->files = std::move(collected->files);
    request->file_modes = std::move(collected->modes);
  }
  trace::mark("request built");
  if (args.session_id && !args.host) {
    return fail(
        "--session-id requires --host (remote server). Session IDs are managed by the "
        "server.");
  }
  auto engine = make_engine(args, *options);
  if (!engine) return fail(engine.error().message);
  trace::mark("engine created");

  RunInterrupts interrupts;
  ConsoleOutput console(interrupts);
  RunControl control;
  control.cancel_fd = interrupts.fd();
  // Streamed output is printed as it arrives; the result keeps it only for --out.
  control.keep_streamed_output = args.out.has_value();
  const bool buffered = args.no_stream || args.json;

  if (buffered) {
    auto result = (*engine)->execute(*request, control);
    (*engine)->stop();
    if (!result) return fail(result.error().message);
    if (auto written = write_out_file(args, *result); !written) {
      return fail(written.error().message);
    }
    if (args.json) {
      console.out_json(to_json(std::move(*result)));
    } else {
      // console.log / console.error as upstream: each stream ends with a newline.
      if (!result->stdout_data.empty()) {
        console.out(result->stdout_data);
        console.out("\n");
      }
      if (!result->stderr_data.empty()) {
        console.err(result->stderr_data);
        console.err("\n");
      }
      if (result->truncated) spdlog::warn("Output was truncated");
      if (!result->network_logs.empty()) {
        std::string logs = "--- Network Logs ---\n";
        for (const auto& entry : result->network_logs) logs += to_json(entry).dump() + "\n";
        console.err(logs);
      }
    }
    // A reader that went away while the result was being printed counts too (write_failed).
    return exit_status(*result, interrupts);
  }

  bool error_event = false;
  auto on_event = [&](const StreamEvent& e) {
    switch (e.type) {
      case StreamEvent::Type::kStdout:
        console.out(e.data);
        break;
      case StreamEvent::Type::kStderr:
        console.err(e.data);
        break;
      case StreamEvent::Type::kError:
        error_event = true;
        if (e.data == kTimedOutEvent) {
          console.err(fmt::format("\n{}\n", kTimedOutMarker));
        } else {
          console.err("[ERR] " + e.data + "\n");
        }
        break;
      case StreamEvent::Type::kExit:
        break;
    }
  };
  auto result = (*engine)->execute_stream(*request, on_event, control);
  trace::mark("run finished");
  (*engine)->stop();
  if (!result) return error_event ? 1 : report_error(result.error().message);
  // As with --no-stream: the marker ended the truncated stream's last line; the warning follows.
  if (result->truncated) spdlog::warn("Output was truncated");
  if (auto written = write_out_file(args, *result); !written) {
    return report_error(written.error().message);
  }
  return exit_status(*result, interrupts);
}

}  // namespace isol8::cli
