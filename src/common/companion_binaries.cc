#include "common/companion_binaries.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <optional>
#include <string_view>
#include <vector>

#include <fmt/format.h>

namespace isol8 {
namespace {

namespace fs = std::filesystem;

fs::path running_binary_dir() {
  std::error_code ec;
  const auto exe = fs::read_symlink("/proc/self/exe", ec);
  return ec ? fs::path() : exe.parent_path();
}

// The first executable regular file among `candidates`; else nothing, and `searched` lists them.
std::optional<fs::path> first_executable(const std::vector<fs::path>& candidates,
                                         std::string& searched) {
  for (const auto& c : candidates) {
    struct stat st;
    if (::stat(c.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(c.c_str(), X_OK) == 0) {
      return c;
    }
    searched += (searched.empty() ? "" : ", ") + c.string();
  }
  if (searched.empty()) searched = "nothing: /proc/self/exe is unreadable";
  return std::nullopt;
}

// <dir>/<name>, <dir>/../<build_subdir>/<name> when given, <dir>/../libexec/isol8/<name>.
std::vector<fs::path> beside_running_binary(std::string_view name, std::string_view build_subdir) {
  const fs::path dir = running_binary_dir();
  if (dir.empty()) return {};
  std::vector<fs::path> candidates{dir / name};
  if (!build_subdir.empty()) candidates.push_back(dir.parent_path() / build_subdir / name);
  candidates.push_back(dir.parent_path() / "libexec" / "isol8" / name);
  return candidates;
}

}  // namespace

Result<fs::path> find_relay_binary() {
  std::vector<fs::path> candidates;
  if (const char* env = std::getenv("ISOL8_RELAY"); env != nullptr && *env != '\0') {
    candidates.emplace_back(env);
  } else {
    candidates = beside_running_binary("isol8-relay", "relay");
  }
  std::string searched;
  if (auto found = first_executable(candidates, searched)) return *found;
  return make_error(fmt::format(
      "Network mode \"filtered\" needs the isol8-relay binary, which was not found (searched: "
      "{}); install it next to isol8 or set ISOL8_RELAY to its path",
      searched));
}

Result<fs::path> find_full_binary() {
  std::string searched;
  if (auto found = first_executable(beside_running_binary("isol8-full", ""), searched)) {
    return *found;
  }
  return make_error(fmt::format(
      "this command needs the isol8-full binary, which was not found (searched: {}); install it "
      "next to isol8 or in <prefix>/libexec/isol8",
      searched));
}

fs::path installed_profiles_dir() {
  fs::path prefix = running_binary_dir();
  if (prefix.empty()) return {};
  // <prefix>/libexec/isol8/isol8-full, else <prefix>/bin/isol8.
  if (prefix.filename() == "isol8" && prefix.parent_path().filename() == "libexec") {
    prefix = prefix.parent_path();
  }
  return prefix.parent_path() / "share" / "isol8" / "profiles";
}

}  // namespace isol8
