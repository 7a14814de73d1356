#include "rootfs/store.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include "common/fs_util.h"

namespace isol8::rootfs {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view kBuildPrefix = ".build-";
constexpr std::string_view kManifestSuffix = ".json";

bool pid_alive(pid_t pid) { return pid > 0 && (::kill(pid, 0) == 0 || errno == EPERM); }

// The pid at the end of ".build-<name>-<pid>[.json]", or 0.
pid_t trailing_pid(std::string name) {
  for (std::string_view suffix : {kManifestSuffix, std::string_view(".versions")}) {
    if (name.ends_with(suffix)) name.resize(name.size() - suffix.size());
  }
  const auto dash = name.rfind('-');
  if (dash == std::string::npos || dash + 1 == name.size()) return 0;
  pid_t pid = 0;
  for (size_t i = dash + 1; i < name.size(); ++i) {
    if (name[i] < '0' || name[i] > '9') return 0;
    pid = pid * 10 + (name[i] - '0');
    if (pid > 1 << 24) return 0;
  }
  return pid;
}

void remove_tree(const fs::path& p) {
  std::error_code ec;
  fs::remove_all(p, ec);
  if (ec) spdlog::warn("cannot remove {}: {}", p.string(), ec.message());
}

Result<std::string> string_field(const nlohmann::json& j, const char* key, bool required) {
  if (!j.contains(key)) {
    if (required) return make_error(fmt::format("manifest field \"{}\" is missing", key));
    return std::string();
  }
  if (!j[key].is_string())
    return make_error(fmt::format("manifest field \"{}\" is not a string", key));
  return j[key].get<std::string>();
}

}  // namespace

nlohmann::json to_json(const Manifest& m) {
  return nlohmann::json{
      {"name", m.name},         {"runtime", m.runtime}, {"versions", m.versions},
      {"packages", m.packages}, {"setup", m.setup},     {"recipeHash", m.recipe_hash},
      {"base", m.base},         {"created", m.created}, {"source", m.source}};
}

std::string describe_contents(const Manifest& m) {
  std::vector<std::string> parts;
  // The runtime's interpreter (python, node, ...) first, then its tools, the base last.
  auto runtime_first = [&](const std::string& key) {
    return key == m.runtime ? 0 : key == "debian" || key == "bash" ? 2 : 1;
  };
  std::vector<std::pair<std::string, std::string>> versions(m.versions.begin(), m.versions.end());
  std::stable_sort(versions.begin(), versions.end(), [&](const auto& a, const auto& b) {
    return runtime_first(a.first) < runtime_first(b.first);
  });
  for (const auto& [k, v] : versions) parts.push_back(k + " " + v);
  std::string out =
      parts.empty() ? "versions not recorded" : fmt::format("{}", fmt::join(parts, ", "));
  if (!m.packages.empty()) out += fmt::format("; packages: {}", fmt::join(m.packages, ", "));
  return out;
}

Result<Manifest> manifest_from_json(const nlohmann::json& j) {
  if (!j.is_object()) return make_error("the manifest is not a JSON object");
  Manifest m;
  auto name = string_field(j, "name", true);
  if (!name) return std::move(name).error();
  m.name = *name;
  auto runtime = string_field(j, "runtime", true);
  if (!runtime) return std::move(runtime).error();
  m.runtime = *runtime;
  for (auto [field, key] : {std::pair{&m.setup, "setup"}, std::pair{&m.recipe_hash, "recipeHash"},
                            std::pair{&m.base, "base"}, std::pair{&m.created, "created"}}) {
    auto value = string_field(j, key, false);
    if (!value) return std::move(value).error();
    *field = *value;
  }
  auto source = string_field(j, "source", false);
  if (!source) return std::move(source).error();
  m.source = source->empty() ? "recipe" : *source;
  if (m.source != "recipe" && m.source != "import") {
    return make_error(
        fmt::format("manifest field \"source\" is \"{}\", not recipe or import", m.source));
  }
  if (j.contains("versions")) {
    if (!j["versions"].is_object())
      return make_error("manifest field \"versions\" is not an object");
    for (const auto& [k, v] : j["versions"].items()) {
      if (!v.is_string())
        return make_error(fmt::format("manifest version \"{}\" is not a string", k));
      m.versions[k] = v.get<std::string>();
    }
  }
  if (j.contains("packages")) {
    if (!j["packages"].is_array()) return make_error("manifest field \"packages\" is not an array");
    for (const auto& p : j["packages"]) {
      if (!p.is_string()) return make_error("manifest field \"packages\" holds a non-string");
      m.packages.push_back(p.get<std::string>());
    }
  }
  return m;
}

fs::path default_store_path() {
  if (const char* env = std::getenv("ISOL8_ROOTFS_STORE"); env != nullptr && *env != '\0') {
    return env;
  }
  if (::geteuid() == 0) return "/var/lib/isol8/rootfs";
  if (const char* xdg = std::getenv("XDG_DATA_HOME"); xdg != nullptr && *xdg == '/') {
    return fs::path(xdg) / "isol8/rootfs";
  }
  const char* home = std::getenv("HOME");
  return fs::path(home != nullptr && *home != '\0' ? home : "/") / ".local/share/isol8/rootfs";
}

fs::path resolve_store_path(const std::string& configured) {
  return configured.empty() ? default_store_path() : fs::path(configured);
}

namespace {

// Character checks by hand rather than std::regex, which recursed once per character: a long
// name (a request's package list, a config file) overflowed the stack.
bool is_ascii_alnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

bool all_of_chars(std::string_view s, std::string_view extra) {
  return std::all_of(s.begin(), s.end(), [&](char c) {
    return is_ascii_alnum(c) || extra.find(c) != std::string_view::npos;
  });
}

}  // namespace

Result<void> validate_root_name(std::string_view name) {
  // ^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$
  const bool well_formed = !name.empty() && name.size() <= 128 && is_ascii_alnum(name.front()) &&
                           all_of_chars(name, "_.:-");
  if (!well_formed || name == "logs" || name.ends_with(".json")) {
    return make_error(fmt::format(
        "Invalid image tag: \"{}\". Use up to 128 letters, digits, '.', '_', '-' and ':', "
        "starting with a letter or digit (not \"logs\", not ending in .json).",
        name));
  }
  return ok();
}

Result<void> validate_package_name(std::string_view name) {
  // ^[@a-zA-Z0-9_./\-=]+$; a leading '-' would be read as an option by pip, npm, apt-get and
  // deno.
  if (name.empty() || !all_of_chars(name, "@_./-=") || name.starts_with('-')) {
    return make_error(fmt::format(
        "Invalid package name: \"{}\". Only alphanumeric, -, _, ., /, @, and = are allowed.",
        name));
  }
  return ok();
}

PendingRoot::PendingRoot(fs::path dir, std::string name)
    : dir_(std::move(dir)), name_(std::move(name)) {}
PendingRoot::PendingRoot(PendingRoot&& other) noexcept
    : dir_(std::move(other.dir_)), name_(std::move(other.name_)) {
  other.dir_.clear();
}
PendingRoot& PendingRoot::operator=(PendingRoot&& other) noexcept {
  if (this != &other) {
    if (!dir_.empty()) remove_tree(dir_);
    dir_ = std::move(other.dir_);
    name_ = std::move(other.name_);
    other.dir_.clear();
  }
  return *this;
}
PendingRoot::~PendingRoot() {
  if (!dir_.empty()) remove_tree(dir_);
}

Result<RootfsStore> RootfsStore::open(const fs::path& path, bool create) {
  if (path.empty() || !path.is_absolute()) {
    return make_error(fmt::format("The rootfs store path must be absolute: \"{}\"", path.string()));
  }
  if (create) {
    std::error_code ec;
    const bool existed = fs::exists(path, ec);
    fs::create_directories(path, ec);
    if (ec) {
      return make_error(
          fmt::format("Cannot create the rootfs store {}: {}", path.string(), ec.message()));
    }
    if (!existed)
      ::chmod(path.c_str(), 0755);  // never change the mode of a directory we did not make
    fs::create_directories(path / "logs", ec);
    if (ec) {
      return make_error(
          fmt::format("Cannot create {}: {}", (path / "logs").string(), ec.message()));
    }
  }
  return RootfsStore(path);
}

std::optional<StoredRoot> RootfsStore::find(std::string_view name) const {
  if (!validate_root_name(name)) return std::nullopt;
  const fs::path dir = path_ / std::string(name);
  const fs::path manifest_path = path_ / (std::string(name) + std::string(kManifestSuffix));
  struct stat st;
  if (::lstat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) return std::nullopt;
  auto text = read_file(manifest_path);
  if (!text) return std::nullopt;  // incomplete: no manifest yet
  auto json = nlohmann::json::parse(*text, nullptr, /*allow_exceptions=*/false);
  auto manifest = manifest_from_json(json);
  if (!manifest) {
    spdlog::warn("ignoring the root {}: {}: {}", dir.string(), manifest_path.string(),
                 manifest.error().message);
    return std::nullopt;
  }
  if (manifest->name != name) {
    spdlog::warn("ignoring the root {}: its manifest names \"{}\"", dir.string(), manifest->name);
    return std::nullopt;
  }
  return StoredRoot{dir, std::move(manifest).value()};
}

std::vector<StoredRoot> RootfsStore::list() const {
  std::vector<StoredRoot> roots;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(path_, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.starts_with('.') || !entry.is_directory(ec) || entry.is_symlink(ec)) continue;
    if (auto root = find(name)) roots.push_back(std::move(*root));
  }
  std::sort(roots.begin(), roots.end(), [](const StoredRoot& a, const StoredRoot& b) {
    return a.manifest.name < b.manifest.name;
  });
  return roots;
}

Result<UniqueFd> RootfsStore::lock_for_writing() const {
  const fs::path lock = path_ / ".lock";
  UniqueFd fd(::open(lock.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644));
  if (!fd) return errno_error("cannot open " + lock.string());
  while (::flock(fd.get(), LOCK_EX) != 0) {
    if (errno != EINTR) return errno_error("cannot lock " + lock.string());
  }
  return fd;
}

Result<void> RootfsStore::reclaim() const {
  std::error_code ec;
  std::vector<fs::path> doomed;
  for (const auto& entry : fs::directory_iterator(path_, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.starts_with(kBuildPrefix)) {
      if (!pid_alive(trailing_pid(name))) doomed.push_back(entry.path());
      continue;
    }
    if (name.starts_with('.') || name == "logs") continue;
    if (name.ends_with(kManifestSuffix)) {
      const std::string root = name.substr(0, name.size() - kManifestSuffix.size());
      if (!fs::is_directory(path_ / root, ec)) doomed.push_back(entry.path());
      continue;
    }
    if (!fs::exists(path_ / (name + std::string(kManifestSuffix)), ec)) {
      spdlog::info("removing the incomplete root {}", entry.path().string());
      doomed.push_back(entry.path());
    }
  }
  for (const auto& p : doomed) remove_tree(p);
  return ok();
}

Result<PendingRoot> RootfsStore::begin(std::string_view name) const {
  const fs::path dir = path_ / fmt::format("{}{}-{}", kBuildPrefix, name, ::getpid());
  remove_tree(dir);  // a leftover of an earlier attempt by this very process
  if (::mkdir(dir.c_str(), 0755) != 0) return errno_error("cannot create " + dir.string());
  return PendingRoot(dir, std::string(name));
}

Result<StoredRoot> RootfsStore::commit(PendingRoot pending, const Manifest& manifest,
                                       bool replace) const {
  ISOL8_TRY(validate_root_name(manifest.name));
  const fs::path target = path_ / manifest.name;
  const fs::path manifest_path = path_ / (manifest.name + std::string(kManifestSuffix));
  // The manifest is written next to the build first, then renamed: it appears whole or not at all.
  const fs::path staged_manifest = pending.dir().string() + std::string(kManifestSuffix);
  ISOL8_TRY(write_file(staged_manifest, to_json(manifest).dump(2) + "\n"));
  auto drop_staged = [&] { ::unlink(staged_manifest.c_str()); };

  struct stat st;
  const bool exists = ::lstat(target.c_str(), &st) == 0;
  if (exists && !replace) {
    drop_staged();
    return make_error(fmt::format("The image {} already exists in {} (use --force to replace it)",
                                  manifest.name, path_.string()));
  }
  if (exists) {
    if (::renameat2(AT_FDCWD, pending.dir().c_str(), AT_FDCWD, target.c_str(), RENAME_EXCHANGE) !=
        0) {
      const int err = errno;
      drop_staged();
      return errno_error(fmt::format("cannot swap {} into place", target.string()), err);
    }
    // pending.dir() now holds the old root: the PendingRoot deletes it at the end of this scope,
    // after the new manifest is in place.
  } else if (::rename(pending.dir().c_str(), target.c_str()) != 0) {
    const int err = errno;
    drop_staged();
    return errno_error(fmt::format("cannot move the new root to {}", target.string()), err);
  } else {
    pending.release();
  }
  if (::rename(staged_manifest.c_str(), manifest_path.c_str()) != 0) {
    return errno_error("cannot write " + manifest_path.string());
  }
  return StoredRoot{target, manifest};
}

Result<void> RootfsStore::remove(std::string_view name) const {
  ISOL8_TRY(validate_root_name(name));
  const fs::path dir = path_ / std::string(name);
  const fs::path manifest_path = path_ / (std::string(name) + std::string(kManifestSuffix));
  std::error_code ec;
  if (!fs::exists(dir, ec) && !fs::exists(manifest_path, ec)) {
    return make_error(fmt::format("No image {} in {}", name, path_.string()));
  }
  if (::unlink(manifest_path.c_str()) != 0 && errno != ENOENT) {
    return errno_error("cannot remove " + manifest_path.string());
  }
  // Renamed aside first, so that a crash in the middle leaves a .build-* entry to reclaim.
  const fs::path aside = path_ / fmt::format("{}{}-{}", kBuildPrefix, name, ::getpid());
  if (::rename(dir.c_str(), aside.c_str()) == 0) {
    remove_tree(aside);
  } else if (errno != ENOENT) {
    return errno_error("cannot remove " + dir.string());
  }
  return ok();
}

}  // namespace isol8::rootfs
