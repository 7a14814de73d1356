#include "core/diagnostics.h"

#include <sys/utsname.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>

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

std::string trimmed(std::string s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
  return s;
}

Check kernel_check() {
  struct utsname u {};
  ::uname(&u);
  return {Level::kOk, "kernel", fmt::format("{} {}", u.sysname, u.release)};
}

Check userns_check() {
  auto max = read_file("/proc/sys/user/max_user_namespaces");
  if (!max) return {Level::kFail, "user namespaces", "not supported by this kernel"};
  if (trimmed(*max) == "0") {
    return {Level::kFail, "user namespaces", "disabled (user.max_user_namespaces = 0)"};
  }
  std::string detail = "max_user_namespaces=" + trimmed(*max);
  if (auto unpriv = read_file("/proc/sys/kernel/unprivileged_userns_clone");
      unpriv && trimmed(*unpriv) == "0" && ::geteuid() != 0) {
    return {Level::kFail, "user namespaces",
            detail + "; unprivileged ones are disabled (kernel.unprivileged_userns_clone = 0)"};
  }
  if (auto aa = read_file("/proc/sys/kernel/apparmor_restrict_unprivileged_userns");
      aa && trimmed(*aa) == "1" && ::geteuid() != 0) {
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

std::vector<Check> runtime_checks() {
  std::vector<Check> out;
  for (const auto& rt : runtimes()) {
    std::string found;
    for (auto dir : kInterpreterDirs) {
      const std::string path = fmt::format("{}/{}", dir, rt.interpreter);
      if (::access(path.c_str(), X_OK) == 0) {
        found = path;
        break;
      }
    }
    out.push_back(
        {found.empty() ? Level::kInfo : Level::kOk, fmt::format("runtime {} (host root)", rt.name),
         found.empty() ? fmt::format("{} not installed on the host", rt.interpreter) : found});
  }
  return out;
}

Check rootfs_store_check() {
  const std::filesystem::path store = rootfs::default_store_path();
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
  for (auto& c : runtime_checks()) checks.push_back(std::move(c));
  checks.push_back(check_docker_daemon());
  checks.push_back(rootfs_store_check());
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
