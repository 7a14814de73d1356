#include "core/diagnostics.h"

#include <sys/utsname.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <regex>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "backends/factory.h"
#include "common/fs_util.h"
#include "core/runtimes.h"
#include "isol8/engine.h"
#include "rootfs/store.h"

namespace isol8 {
namespace {

using Level = Check::Level;

Check kernel_check() {
  struct utsname u {};
  ::uname(&u);
  return {Level::kOk, "kernel", fmt::format("{} {}", u.sysname, u.release)};
}

Check userns_check() {
  auto max = read_file("/proc/sys/user/max_user_namespaces");
  if (!max) return {Level::kFail, "user namespaces", "not supported by this kernel"};
  if (trim_trailing_space(*max) == "0") {
    return {Level::kFail, "user namespaces", "disabled (user.max_user_namespaces = 0)"};
  }
  std::string detail = "max_user_namespaces=" + trim_trailing_space(*max);
  if (auto unpriv = read_file("/proc/sys/kernel/unprivileged_userns_clone");
      unpriv && trim_trailing_space(*unpriv) == "0" && ::geteuid() != 0) {
    return {Level::kFail, "user namespaces",
            detail + "; unprivileged ones are disabled (kernel.unprivileged_userns_clone = 0)"};
  }
  if (auto aa = read_file("/proc/sys/kernel/apparmor_restrict_unprivileged_userns");
      aa && trim_trailing_space(*aa) == "1" && ::geteuid() != 0) {
    return {Level::kFail, "user namespaces",
            detail +
                "; AppArmor restricts unprivileged ones "
                "(kernel.apparmor_restrict_unprivileged_userns = 1)"};
  }
  return {Level::kOk, "user namespaces", detail};
}

Check sandbox_check(const Options& configured) {
  // The native backend with the configured id mapping, hostname and seccomp mode, and the
  // defaults otherwise (no network, the host's system directories).
  Options options;
  options.native = configured.native;
  options.native.root_dir.clear();
  options.security = configured.security;
  auto engine = Engine::create(options);
  if (!engine) return {Level::kFail, "native sandbox", engine.error().message};
  ExecutionRequest req;
  req.runtime = "bash";
  req.cmd = "exit 0";
  req.timeout_ms = 10000;
  const auto start = std::chrono::steady_clock::now();
  auto result = (*engine)->execute(req);
  const auto ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start);
  if (!result) return {Level::kFail, "native sandbox", result.error().message};
  if (result->exit_code != 0) {
    return {Level::kFail, "native sandbox",
            fmt::format("a test run exited {}: {}", result->exit_code, result->stderr_data)};
  }
  return {Level::kOk, "native sandbox", fmt::format("a test run took {:.1f} ms", ms.count())};
}

// The first line of `<path> --version`, reduced to its version number ("3.11.2"), or "".
std::string host_version(const std::string& path) {
  // The path is one of kInterpreterDirs plus an interpreter name: nothing the shell would expand.
  std::unique_ptr<FILE, int (*)(FILE*)> pipe(::popen((path + " --version 2>&1").c_str(), "re"),
                                             ::pclose);
  if (!pipe) return "";
  char line[256] = {};
  if (std::fgets(line, sizeof line, pipe.get()) == nullptr) return "";
  static const std::regex kVersion("[0-9]+(\\.[0-9]+)+");
  std::cmatch m;
  return std::regex_search(line, m, kVersion) ? m.str() : "";
}

std::string host_interpreter(const Runtime& rt) {
  if (!rt.host_interpreter.empty() &&
      ::access(std::string(rt.host_interpreter).c_str(), X_OK) == 0) {
    return std::string(rt.host_interpreter);
  }
  for (auto dir : kInterpreterDirs) {
    const std::string path = fmt::format("{}/{}", dir, rt.interpreter);
    if (::access(path.c_str(), X_OK) == 0) return path;
  }
  return "";
}

// Where each runtime's native runs will come from, decided as run preparation decides it
// (rootfs/selection.h): native.rootDir, else isol8:<runtime> in the store, else the host's
// system directories.
std::vector<Check> runtime_checks(const Options& options) {
  std::vector<Check> out;
  if (!options.native.root_dir.empty()) {
    for (const auto& rt : runtimes()) {
      out.push_back({Level::kOk, fmt::format("runtime {}", rt.name),
                     fmt::format("the root {} (native.rootDir)", options.native.root_dir)});
    }
    return out;
  }
  const std::filesystem::path store_path = rootfs::resolve_store_path(options.rootfs_store);
  auto store = rootfs::RootfsStore::open(store_path);
  for (const auto& rt : runtimes()) {
    const std::string name = fmt::format("isol8:{}", rt.name);
    const std::string check = fmt::format("runtime {}", rt.name);
    if (store) {
      if (auto root = store->find(name)) {
        out.push_back({Level::kOk, check,
                       fmt::format("{} from the store {} ({})", name, store_path.string(),
                                   rootfs::describe_contents(root->manifest))});
        continue;
      }
    }
    const std::string path = host_interpreter(rt);
    if (path.empty()) {
      out.push_back({Level::kInfo, check,
                     fmt::format("not available: {} is not in the store {} and {} is not "
                                 "installed on the host (build it with `isol8 setup --runtime {}`)",
                                 name, store_path.string(), rt.interpreter, rt.name)});
      continue;
    }
    const std::string version = host_version(path);
    out.push_back({Level::kOk, check,
                   fmt::format("the host's {}{} ({} is not in the store {})", path,
                               version.empty() ? "" : " " + version, name, store_path.string())});
  }
  return out;
}

Check rootfs_store_check(const Options& options) {
  const std::filesystem::path store = rootfs::resolve_store_path(options.rootfs_store);
  std::error_code ec;
  if (!std::filesystem::is_directory(store, ec)) {
    return {Level::kInfo, "rootfs store",
            store.string() + " does not exist: runs use the host's system directories"};
  }
  auto opened = rootfs::RootfsStore::open(store);
  std::vector<std::string> names;
  if (opened) {
    for (const auto& root : opened->list()) names.push_back(root.manifest.name);
  }
  return {Level::kOk, "rootfs store",
          fmt::format("{} ({} roots{}{})", store.string(), names.size(), names.empty() ? "" : ": ",
                      fmt::join(names, ", "))};
}

}  // namespace

std::vector<Check> run_diagnostics(const Options& options) {
  std::vector<Check> checks = {kernel_check(), userns_check()};
  for (auto& c : check_native_host(options)) checks.push_back(std::move(c));
  checks.push_back(sandbox_check(options));
  checks.push_back(check_filtered_mode(options));
  for (auto& c : runtime_checks(options)) checks.push_back(std::move(c));
  checks.push_back(check_docker_daemon());
  checks.push_back(rootfs_store_check(options));
  return checks;
}

const char* to_string(Check::Level level) {
  switch (level) {
    case Level::kOk:
      return "OK";
    case Level::kInfo:
      return "INFO";
    case Level::kWarn:
      return "WARN";
    case Level::kFail:
      return "FAIL";
  }
  return "FAIL";
}

nlohmann::json to_json(const std::vector<Check>& checks) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& c : checks) {
    out.push_back({{"check", c.name}, {"status", to_string(c.level)}, {"detail", c.detail}});
  }
  return out;
}

}  // namespace isol8
