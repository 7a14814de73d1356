#include "core/run_preparation.h"

#include <algorithm>
#include <vector>

#include <fmt/format.h>

#include "core/package_install.h"
#include "isol8/options.h"
#include "rootfs/selection.h"

namespace isol8 {
namespace {

bool blank(const std::optional<std::string>& s) {
  return !s || std::all_of(s->begin(), s->end(), [](unsigned char c) { return std::isspace(c); });
}

// Upstream's container environment (reference §5.7), so that package tools land in /sandbox.
std::vector<std::string> base_environment() {
  return {
      "PATH=/sandbox/.local/bin:/sandbox/.npm-global/bin:/sandbox/.bun-global/bin:"
      "/usr/local/bin:/usr/bin:/bin",
      "HOME=/sandbox",
      "USER=sandbox",
      "LANG=C.UTF-8",
      "TMPDIR=/tmp",
      "PYTHONUNBUFFERED=1",
      "PYTHONUSERBASE=/sandbox/.local",
      "NPM_CONFIG_PREFIX=/sandbox/.npm-global",
      "DENO_DIR=/sandbox/.deno",
      "NODE_PATH=/usr/local/lib/node_modules:/sandbox/.npm-global/lib/node_modules:"
      "/sandbox/node_modules",
  };
}

Result<void> add_env(std::vector<std::string>& env, const std::string& key,
                     const std::string& value, std::string_view what) {
  if (key.empty() || key.find('=') != std::string::npos || key.find('\0') != std::string::npos) {
    return make_error(fmt::format("Invalid {} name: \"{}\"", what, key));
  }
  if (value.find('\0') != std::string::npos) {
    return make_error(fmt::format("The {} {} contains a NUL byte", what, key));
  }
  // A later value replaces an earlier one of the same name, as in upstream's env merge.
  const std::string prefix = key + "=";
  std::erase_if(env, [&](const std::string& e) { return e.starts_with(prefix); });
  env.push_back(prefix + value);
  return ok();
}

Result<std::string> find_interpreter(const Runtime& rt, const std::string& root_dir,
                                     const Backend& backend) {
  if (root_dir.empty() && !rt.host_interpreter.empty() &&
      backend.has_executable(root_dir, std::string(rt.host_interpreter))) {
    return std::string(rt.host_interpreter);
  }
  for (auto dir : kInterpreterDirs) {
    std::string path = fmt::format("{}/{}", dir, rt.interpreter);
    if (backend.has_executable(root_dir, path)) return path;
  }
  return make_error(fmt::format(
      "Runtime \"{}\" needs the interpreter \"{}\", which is not installed in {} (looked in "
      "/usr/local/bin, /usr/bin, /bin)",
      rt.name, rt.interpreter,
      root_dir.empty() ? std::string("the host's system directories")
                       : "the root filesystem " + root_dir));
}

// The setup-phase commands that install `packages` with the runtime's tool from the root; each
// with the run's time limit (a limit of its own: the code phase's starts when installs end).
Result<void> add_install_commands(RunSpec& spec, const std::string& runtime,
                                  const std::vector<std::string>& packages,
                                  const Backend& backend) {
  const std::string_view tool = install_tool(runtime);
  if (runtime == "bash") {
    // apt needs the root's package database (/var/lib/dpkg) and sources, which the host's
    // system directories mounted into a sandbox do not carry.
    if (spec.root_dir.empty() && spec.image.empty()) {
      return make_error(
          "Package installs for bash need a runtime root with a Debian package database; the "
          "host's system directories have none inside the sandbox (build the roots with `isol8 "
          "setup`, or use --image)");
    }
    if (!backend.has_executable(spec.root_dir, kSetupShell)) {
      return make_error(
          fmt::format("Package installs for bash need {}, which the root {} does "
                      "not have",
                      kSetupShell, spec.root_dir));
    }
    if (const std::string sources = configured_apt_sources(); !sources.empty()) {
      spec.files.push_back(CodeFile{kAptSourcesPath, sources, 0644});
    }
  }
  if (tool.empty()) {
    return make_error(fmt::format(
        "Package installs for runtime \"{}\" are not supported by this version of isol8 (build a "
        "root with the packages instead: isol8 build --base {} --install <pkg> --tag <name>)",
        runtime, runtime));
  }
  std::string path;
  for (auto dir : kInterpreterDirs) {
    const std::string candidate = fmt::format("{}/{}", dir, tool);
    if (backend.has_executable(spec.root_dir, candidate)) {
      path = candidate;
      break;
    }
  }
  if (path.empty()) {
    return make_error(
        fmt::format("Package installs for {} need \"{}\", which is not installed in {} (looked in "
                    "/usr/local/bin, /usr/bin, /bin)",
                    runtime, tool,
                    spec.root_dir.empty() ? std::string("the host's system directories")
                                          : "the root filesystem " + spec.root_dir));
  }
  spec.setup_commands = install_commands(runtime, path, packages, spec.timeout);
  return ok();
}

}  // namespace

namespace {

// POSIX-style normalisation against /sandbox, without touching the filesystem; nullopt when the
// path holds a NUL byte.
std::optional<std::string> normalize_in_sandbox(std::string_view path) {
  if (path.find('\0') != std::string_view::npos) return std::nullopt;
  std::string joined = path.starts_with('/') ? std::string(path) : "/sandbox/" + std::string(path);
  std::vector<std::string> parts;
  size_t i = 0;
  while (i <= joined.size()) {
    size_t j = joined.find('/', i);
    if (j == std::string::npos) j = joined.size();
    std::string part = joined.substr(i, j - i);
    if (part == "..") {
      if (!parts.empty()) parts.pop_back();
    } else if (!part.empty() && part != ".") {
      parts.push_back(part);
    }
    i = j + 1;
  }
  std::string resolved;
  for (const auto& p : parts) resolved += "/" + p;
  return resolved.empty() ? "/" : resolved;
}

}  // namespace

Result<std::string> resolve_workdir(std::string_view path) {
  auto resolved = normalize_in_sandbox(path);
  if (!resolved || (*resolved != "/sandbox" && !resolved->starts_with("/sandbox/"))) {
    return make_error("Working directory must be inside /sandbox");
  }
  return *resolved;
}

Result<std::string> resolve_file_path(std::string_view path) {
  auto resolved = normalize_in_sandbox(path);
  if (!resolved || !resolved->starts_with("/sandbox/")) {
    return make_error(fmt::format("File path must be inside /sandbox: {}", path));
  }
  return *resolved;
}

Result<std::string> resolve_transfer_path(std::string_view path) {
  if (path.empty()) return make_error("File path is empty");
  if (path.find('\0') != std::string_view::npos) {
    return make_error("File path contains a NUL byte");
  }
  for (size_t i = 0; i <= path.size();) {
    size_t j = path.find('/', i);
    if (j == std::string_view::npos) j = path.size();
    if (path.substr(i, j - i) == "..") {
      return make_error(fmt::format("File path must not contain \"..\": {}", path));
    }
    i = j + 1;
  }
  auto resolved = normalize_in_sandbox(path);
  if (!resolved || !(resolved->starts_with("/sandbox/") || resolved->starts_with("/tmp/"))) {
    return make_error(fmt::format("File path must be inside /sandbox or /tmp: {}", path));
  }
  return *resolved;
}

Result<PreparedRun> prepare_run(const ExecutionRequest& request, const Options& options,
                                const Backend& backend) {
  const bool has_code = !blank(request.code);
  const bool has_cmd = !blank(request.cmd);
  if (has_code && has_cmd) {
    return make_error(
        "ExecutionRequest.code, ExecutionRequest.codeUrl, and ExecutionRequest.cmd are mutually "
        "exclusive — provide exactly one.");
  }
  if (!has_code && !has_cmd) {
    return make_error("ExecutionRequest must include exactly one of: code, codeUrl, or cmd.");
  }

  PreparedRun run;
  const std::string runtime_name =
      !request.runtime.empty() ? request.runtime : (has_cmd ? "bash" : "python");
  auto runtime = find_runtime(runtime_name);
  if (!runtime) return std::move(runtime).error();
  run.runtime = *runtime;

  // Every number within its stated range before anything uses it (isol8/options.h).
  ISOL8_TRY(check_limits(options, request.timeout_ms));
  const int64_t timeout_ms = request.timeout_ms.value_or(options.timeout_ms);

  RunSpec& spec = run.spec;
  // native.rootDir, else the --image root, else isol8:<runtime> from the store, else the host.
  if (!request.install_packages.empty()) {
    // Before anything runs: every entry against the runtime's grammar, and a network to reach
    // the registry with.
    ISOL8_TRY(validate_packages(runtime_name, request.install_packages));
    if (options.network == NetworkMode::kNone) {
      return make_error(kInstallNeedsNetwork);
    }
  }
  auto root = rootfs::select_root(options, runtime_name, request.install_packages);
  if (!root) return std::move(root).error();
  spec.root_dir = root->root_dir;
  spec.image = root->image;
  spec.setup_script = rootfs::compose_setup_script(root->image_setup, request.setup_script);
  spec.runtime = runtime_name;
  spec.network = options.network;
  spec.network_filter = options.network_filter;
  spec.log_network = options.log_network;
  spec.persist = options.persist;
  spec.sandbox_size_bytes = options.sandbox_size_bytes;
  spec.tmp_size_bytes = options.tmp_size_bytes;
  spec.timeout = std::chrono::milliseconds(timeout_ms);
  spec.limits.memory_bytes = options.memory_limit_bytes;
  spec.limits.cpus = options.cpu_limit;
  spec.limits.pids = static_cast<uint64_t>(options.pids_limit);
  spec.stdin_data = request.stdin_data.value_or("");
  if (request.workdir) {
    auto workdir = resolve_workdir(*request.workdir);
    if (!workdir) return std::move(workdir).error();
    spec.workdir = *workdir;
  }
  for (const auto& [path, content] : request.files) {
    auto resolved = resolve_file_path(path);
    if (!resolved) return std::move(resolved).error();
    const auto mode = request.file_modes.find(path);
    // Permission bits only: a setuid file would be the sandbox user's all the same, but nothing
    // the sandbox is given should carry setuid, setgid or sticky bits.
    spec.files.push_back(
        CodeFile{*resolved, content,
                 mode == request.file_modes.end() ? kDefaultFileMode : (mode->second & 0777u)});
  }
  if (request.setup_script.find('\0') != std::string::npos) {
    return make_error("The setup script contains a NUL byte");
  }
  if (!request.install_packages.empty() && !root->packages_baked_in) {
    ISOL8_TRY(add_install_commands(spec, runtime_name, request.install_packages, backend));
  }
  if (!spec.setup_script.empty() && !backend.has_executable(spec.root_dir, kSetupShell)) {
    return make_error(fmt::format("Setup scripts need {}, which the root {} does not have",
                                  kSetupShell, spec.root_dir.empty() ? "/" : spec.root_dir));
  }

  // `cmd` always runs under bash, whatever the runtime's image.
  const Runtime& interp_rt = has_cmd ? **find_runtime("bash") : *run.runtime;
  auto interpreter = find_interpreter(interp_rt, spec.root_dir, backend);
  if (!interpreter) return std::move(interpreter).error();
  spec.argv.push_back(*interpreter);

  if (has_cmd) {
    if (request.cmd->find('\0') != std::string::npos) {
      return make_error("The command contains a NUL byte");
    }
    spec.argv.insert(spec.argv.end(), {"-c", *request.cmd});
  } else {
    const Runtime& rt = *run.runtime;
    const std::string& code = *request.code;
    const bool inline_ok = !rt.inline_args.empty() && request.file_extension.empty() &&
                           code.size() <= kMaxInlineCode && code.find('\0') == std::string::npos;
    if (inline_ok) {
      spec.argv.insert(spec.argv.end(), rt.inline_args.begin(), rt.inline_args.end());
      spec.argv.push_back(code);
    } else {
      std::string ext = request.file_extension.empty() ? std::string(rt.default_extension)
                                                       : request.file_extension;
      if (ext.find('/') != std::string::npos || ext.find('\0') != std::string::npos) {
        return make_error(fmt::format("Invalid file extension: \"{}\"", ext));
      }
      const std::string path = "/sandbox/main" + ext;
      spec.argv.insert(spec.argv.end(), rt.file_args.begin(), rt.file_args.end());
      spec.argv.push_back(path);
      spec.code_file = CodeFile{path, code};
    }
  }

  spec.env = base_environment();
  if (runtime_name == "bash") {
    // The Debian packages this run's install unpacks (a session's later runs: the engine).
    if (!request.install_packages.empty()) add_debian_package_environment(spec.env);
  } else if (runtime_name == "bun") {
    // Packages a bun install put in its global directory: Bun resolves them through NODE_PATH
    // only (else it would fetch them again at run time, from the default registry).
    for (std::string& entry : spec.env) {
      if (entry.starts_with("NODE_PATH=")) entry += ":/sandbox/.bun-global/node_modules";
    }
  } else if (runtime_name == "deno") {
    // The registry the installs cached from (deno_registry_environment).
    for (auto& e : deno_registry_environment()) spec.env.push_back(std::move(e));
  }
  for (const auto& [key, value] : options.secrets) {
    ISOL8_TRY(add_env(spec.env, key, value, "secret"));
    if (!value.empty()) run.secret_values.push_back(value);
  }
  for (const auto& [key, value] : request.env) {
    ISOL8_TRY(add_env(spec.env, key, value, "environment variable"));
  }
  return run;
}

}  // namespace isol8
