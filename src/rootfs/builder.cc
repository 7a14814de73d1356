#include "rootfs/builder.h"
#include "common/iso_time.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <optional>
#include <sstream>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include "common/fs_util.h"
#include "common/unique_fd.h"
#include "rootfs/process.h"
#include "rootfs/recipes.h"
#include "rootfs/registry.h"

namespace isol8::rootfs {
namespace {

namespace fs = std::filesystem;

// Where a custom Deno root keeps its module cache: the sandbox's DENO_DIR is /sandbox/.deno (a
// tmpfs), so the root's setup script copies the cache there before each run.
constexpr const char* kDenoCache = "/usr/local/share/isol8-deno-dir";

std::string quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

void log_line(const BuildContext& ctx, const std::string& line) {
  if (ctx.log_fd < 0) return;
  const std::string text = fmt::format("\n== {} {}\n", iso_timestamp_now(), line);
  [[maybe_unused]] auto n = ::write(ctx.log_fd, text.data(), text.size());
}

Result<void> step(const BuildContext& ctx, const std::string& label, std::vector<std::string> argv,
                  std::vector<std::string> env = {}) {
  if (ctx.on_step) ctx.on_step(label);
  log_line(ctx, label);
  StepCommand cmd;
  cmd.argv = std::move(argv);
  cmd.extra_env = std::move(env);
  cmd.log_fd = ctx.log_fd;
  cmd.cancel_fd = ctx.cancel_fd;
  cmd.tick = ctx.tick;
  auto status = run_step(cmd);
  if (!status) {
    if (status.error().code == ECANCELED) return Error{ECANCELED, "Cancelled"};
    return std::move(status).error().context(label);
  }
  if (*status != 0) {
    log_line(ctx, fmt::format("{} failed with exit code {}", label, *status));
    return make_error(fmt::format("{} failed (exit code {}); see the build log {}", label, *status,
                                  ctx.log_path));
  }
  return ok();
}

// What the build log received since `offset` (at most its last 256 KiB).
std::string log_since(const BuildContext& ctx, off_t offset) {
  constexpr off_t kMax = 256 * 1024;
  UniqueFd fd(::open(ctx.log_path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return "";
  const off_t end = ::lseek(fd.get(), 0, SEEK_END);
  if (end <= offset) return "";
  const off_t start = std::max(offset, end - kMax);
  std::string out(static_cast<size_t>(end - start), '\0');
  const ssize_t n = ::pread(fd.get(), out.data(), out.size(), start);
  out.resize(n > 0 ? static_cast<size_t>(n) : 0);
  return out;
}

// Runs lib.sh + `body` + clean_root in a private mount namespace with ROOT=`root`. With
// `registry_of` (a runtime), a failure whose output shows that the package registry could not
// be reached says so (rootfs/registry.h) instead of pointing at the log alone.
Result<void> run_recipe(const BuildContext& ctx, const std::string& label, const fs::path& root,
                        const fs::path& versions_file, const std::string& body,
                        std::string_view registry_of = {}) {
  std::string script = std::string(recipe("lib"));
  script += "\n# ---- " + label + "\n" + body + "\nclean_root\n";
  const off_t log_start = ctx.log_fd >= 0 ? ::lseek(ctx.log_fd, 0, SEEK_CUR) : -1;
  auto done = step(ctx, label,
                   {"unshare", "--mount", "--propagation", "private", "/bin/bash", "-c", script},
                   {"ROOT=" + root.string(), "ISOL8_VERSIONS_FILE=" + versions_file.string()});
  if (done || done.error().code == ECANCELED || registry_of.empty() || log_start < 0) return done;
  if (auto unreachable = unreachable_registry_message(registry_of, log_since(ctx, log_start))) {
    return make_error(
        fmt::format("{} failed: {}; the build log is {}", label, *unreachable, ctx.log_path));
  }
  return done;
}

std::map<std::string, std::string> read_versions(const fs::path& file) {
  std::map<std::string, std::string> versions;
  auto text = read_file(file);
  if (!text) return versions;
  std::istringstream in(*text);
  std::string line;
  while (std::getline(in, line)) {
    const auto eq = line.find('=');
    if (eq != std::string::npos && eq > 0) versions[line.substr(0, eq)] = line.substr(eq + 1);
  }
  return versions;
}

// The versions file next to a pending root; named like it, so that reclaim() finds leftovers.
fs::path versions_path(const PendingRoot& pending) { return pending.dir().string() + ".versions"; }

struct ScopedUnlink {
  fs::path path;
  ~ScopedUnlink() {
    if (!path.empty()) ::unlink(path.c_str());
  }
};

fs::path base_dir(const RootfsStore& store) { return store.path() / (".base-" + recipe_hash("")); }

// The Debian base of this recipe version, built unless present (or rebuilt once with `force`).
Result<fs::path> ensure_base(const BuildContext& ctx, bool force) {
  const RootfsStore& store = *ctx.store;
  const fs::path dir = base_dir(store);
  const fs::path versions = dir.string() + ".versions";
  std::error_code ec;
  if (fs::is_directory(dir, ec) && fs::exists(versions, ec) && (!force || ctx.base_rebuilt)) {
    return dir;
  }
  auto pending = store.begin(".base-" + recipe_hash(""));
  if (!pending) return std::move(pending).error();
  const fs::path pending_versions = versions_path(*pending);
  ScopedUnlink drop_versions{pending_versions};
  std::string body;
  if (const char* mirror = std::getenv("ISOL8_DEBIAN_MIRROR"); mirror != nullptr && *mirror) {
    body += "export ISOL8_DEBIAN_MIRROR=" + quote(mirror) + "\n";
  }
  body += std::string(recipe("base"));
  // debootstrap wants to create the directory's content itself; an empty directory is fine.
  ISOL8_TRY(run_recipe(ctx, "base: debootstrap bookworm", pending->dir(), pending_versions, body));
  fs::remove_all(dir, ec);
  ::unlink(versions.c_str());
  if (::rename(pending_versions.c_str(), versions.c_str()) != 0) {
    return errno_error("cannot move " + pending_versions.string());
  }
  drop_versions.path.clear();
  if (::rename(pending->dir().c_str(), dir.c_str()) != 0) {
    return errno_error("cannot move the base to " + dir.string());
  }
  pending->release();
  ctx.base_rebuilt = true;
  return dir;
}

// A new pending root holding a copy of `from`.
Result<PendingRoot> copy_root(const BuildContext& ctx, const std::string& label,
                              const std::string& name, const fs::path& from) {
  auto pending = ctx.store->begin(name);
  if (!pending) return std::move(pending).error();
  ISOL8_TRY(step(ctx, label,
                 {"cp", "-a", "--reflink=auto", from.string() + "/.", pending->dir().string()}));
  return pending;
}

std::string install_label(const std::string& what, const std::vector<std::string>& packages) {
  return what + ": install " +
         (packages.empty() ? "(nothing)" : fmt::format("{}", fmt::join(packages, " ")));
}

std::string join_quoted(const std::vector<std::string>& packages) {
  std::string out;
  for (const auto& p : packages) out += " " + quote(p);
  return out;
}

// The shell lines that install `packages` into $ROOT for `runtime` (custom roots and config
// dependencies alike).
Result<std::string> install_script(const std::string& runtime,
                                   const std::vector<std::string>& packages) {
  const std::string pkgs = join_quoted(packages);
  if (packages.empty()) return std::string("true\n");
  // The mirror variables of isol8's environment reach the tools (rootfs/registry.h).
  const std::string env = registry_env_prelude() + "in_root env \"${_isol8_registry_env[@]}\" ";
  if (runtime == "python") {
    // One retry: without any, pip does not print why the index could not be read.
    return env +
           "python3 -m pip install --break-system-packages --no-cache-dir "
           "--disable-pip-version-check --retries 1 --timeout 15" +
           pkgs + "\n";
  }
  if (runtime == "node") {
    // One retry after 2 s, as pip gets one: npm's default (two, after 10 s and 60 s) keeps an
    // unreachable registry's failure waiting for over a minute.
    return env +
           "npm install -g --no-audit --no-fund --loglevel=error --fetch-retries=1 "
           "--fetch-retry-mintimeout=2000 --fetch-retry-maxtimeout=2000" +
           pkgs + "\n";
  }
  if (runtime == "bun") {
    // Global packages in /usr/local/lib/node_modules (on NODE_PATH), readable by everyone.
    return env +
           "BUN_INSTALL_GLOBAL_DIR=/usr/local/lib BUN_INSTALL_BIN=/usr/local/bin "
           "BUN_INSTALL_CACHE_DIR=/tmp/bun-cache bun add -g" +
           pkgs + "\nchmod -R a+rX \"$ROOT/usr/local/lib\"\n";
  }
  if (runtime == "deno") {
    std::string s = registry_env_prelude();
    for (const auto& p : packages) {
      // Package names (upstream's charset has no ':') are npm packages: npm:<name>.
      s += fmt::format("in_root env \"${{_isol8_registry_env[@]}}\" DENO_DIR={} deno cache {}\n",
                       kDenoCache, quote("npm:" + p));
    }
    return s + fmt::format("chmod -R a+rX \"$ROOT{}\"\n", kDenoCache);
  }
  if (runtime == "bash") return "apt_install" + pkgs + "\n";
  return make_error("Unknown runtime: " + runtime);
}

}  // namespace

const std::vector<std::string>& buildable_runtimes() {
  static const std::vector<std::string> kRuntimes = {"python", "node", "bun", "bash", "deno"};
  return kRuntimes;
}

Result<void> check_can_build() {
  if (::geteuid() != 0) {
    return make_error(
        "Building runtime roots needs root (debootstrap, chroot and mounts). Run isol8 setup as "
        "root, or import a root filesystem instead: isol8 rootfs import --tar <file> --tag <name> "
        "--runtime <runtime>");
  }
  return ok();
}

std::string runtime_root_hash(const std::string& runtime,
                              const std::vector<std::string>& dependencies) {
  const std::string recipes = recipe_hash(runtime);
  if (dependencies.empty()) return recipes;
  std::string input = "recipes:" + recipes + "\ndependencies:\n";
  for (const auto& p : dependencies) input += p + "\n";
  return sha256_hex(input);
}

Result<SetupOutcome> ensure_runtime_root(const BuildContext& ctx, const std::string& runtime,
                                         const std::vector<std::string>& dependencies, bool force) {
  if (std::find(buildable_runtimes().begin(), buildable_runtimes().end(), runtime) ==
      buildable_runtimes().end()) {
    return make_error("Unknown runtime: " + runtime);
  }
  ISOL8_TRY(check_can_build());
  for (const auto& p : dependencies) ISOL8_TRY(validate_package_name(p));
  auto deps_script = install_script(runtime, dependencies);
  if (!deps_script) return std::move(deps_script).error();
  const std::string name = "isol8:" + runtime;
  const std::string hash = runtime_root_hash(runtime, dependencies);
  auto existing = ctx.store->find(name);
  if (existing && existing->manifest.recipe_hash == hash && !force) return SetupOutcome::kUpToDate;

  // A root built from the current recipes with some of the packages wanted now only needs the
  // others: packages are added to a copy of it instead of building it again from the base (the
  // install commands skip what is there already). Packages dropped from the list, a recipe
  // change or --force mean a build from the base.
  const bool add_to_existing =
      existing && !force && !dependencies.empty() && existing->manifest.source == "recipe" &&
      existing->manifest.recipe_hash == runtime_root_hash(runtime, existing->manifest.packages) &&
      std::includes(dependencies.begin(), dependencies.end(), existing->manifest.packages.begin(),
                    existing->manifest.packages.end());
  std::optional<PendingRoot> pending;
  fs::path versions;
  ScopedUnlink drop_versions;
  if (add_to_existing) {
    auto copied = copy_root(ctx, runtime + ": copy " + name, name, existing->dir);
    if (!copied) return std::move(copied).error();
    pending = std::move(copied).value();
    versions = versions_path(*pending);
    drop_versions.path = versions;
    std::string lines;
    for (const auto& [k, v] : existing->manifest.versions) lines += k + "=" + v + "\n";
    ISOL8_TRY(write_file(versions, lines));
  } else {
    auto base = ensure_base(ctx, force);
    if (!base) return std::move(base).error();
    auto copied = copy_root(ctx, runtime + ": copy the Debian base", name, *base);
    if (!copied) return std::move(copied).error();
    pending = std::move(copied).value();
    versions = versions_path(*pending);
    drop_versions.path = versions;
    std::error_code ec;
    fs::copy_file(base->string() + ".versions", versions, fs::copy_options::overwrite_existing, ec);
    ISOL8_TRY(run_recipe(ctx, runtime + ": " + runtime + ".sh", pending->dir(), versions,
                         std::string(recipe(runtime)), runtime));
  }
  if (!dependencies.empty()) {
    ISOL8_TRY(run_recipe(ctx, install_label(runtime, dependencies), pending->dir(), versions,
                         *deps_script, runtime));
  }
  Manifest m;
  m.name = name;
  m.runtime = runtime;
  m.versions = read_versions(versions);
  m.packages = dependencies;
  m.recipe_hash = hash;
  m.base = "debian:bookworm";
  m.created = iso_timestamp_now();
  m.source = "recipe";
  auto committed = ctx.store->commit(std::move(*pending), m, /*replace=*/true);
  if (!committed) return std::move(committed).error();
  return SetupOutcome::kBuilt;
}

std::string custom_hash(const CustomBuild& spec, const std::string& base_recipe_hash) {
  std::string input = spec.runtime + "\n";
  for (const auto& p : spec.packages) input += p + "\n";
  input += "setup:" + spec.setup + "\nbase:" + base_recipe_hash;
  return sha256_hex(input);
}

Result<StoredRoot> build_custom_root(const BuildContext& ctx, const CustomBuild& spec) {
  ISOL8_TRY(check_can_build());
  ISOL8_TRY(validate_root_name(spec.tag));
  for (const auto& rt : buildable_runtimes()) {
    if (spec.tag == "isol8:" + rt) {
      return make_error(fmt::format(
          "The tag {} is reserved for the runtime root built by isol8 setup", spec.tag));
    }
  }
  for (const auto& p : spec.packages) ISOL8_TRY(validate_package_name(p));
  auto script = install_script(spec.runtime, spec.packages);
  if (!script) return std::move(script).error();
  if (!spec.force && ctx.store->find(spec.tag)) {
    return make_error(fmt::format("The image {} already exists in {} (use --force to rebuild it)",
                                  spec.tag, ctx.store->path().string()));
  }
  ISOL8_TRY(ensure_runtime_root(ctx, spec.runtime, spec.runtime_dependencies, false));
  auto base = ctx.store->find("isol8:" + spec.runtime);
  if (!base) return make_error("isol8:" + spec.runtime + " vanished from the store");

  auto pending = copy_root(ctx, spec.tag + ": copy " + base->manifest.name, spec.tag, base->dir);
  if (!pending) return std::move(pending).error();
  const fs::path versions = versions_path(*pending);
  ScopedUnlink drop_versions{versions};
  ISOL8_TRY(run_recipe(ctx, install_label(spec.tag, spec.packages), pending->dir(), versions,
                       *script, spec.runtime));
  Manifest m;
  m.name = spec.tag;
  m.runtime = spec.runtime;
  m.versions = base->manifest.versions;
  m.packages = spec.packages;
  m.setup = spec.setup;
  if (spec.runtime == "deno" && !spec.packages.empty()) {
    m.setup = fmt::format("mkdir -p /sandbox/.deno && cp -R {}/. /sandbox/.deno/", kDenoCache) +
              (spec.setup.empty() ? "" : "\n" + spec.setup);
  }
  m.recipe_hash = custom_hash(spec, base->manifest.recipe_hash);
  m.base = base->manifest.name;
  m.created = iso_timestamp_now();
  m.source = "recipe";
  return ctx.store->commit(std::move(*pending), m, spec.force);
}

void prune_bases(const RootfsStore& store) {
  const std::string keep = base_dir(store).filename().string();
  std::error_code ec;
  std::vector<fs::path> doomed;
  for (const auto& e : fs::directory_iterator(store.path(), ec)) {
    const std::string name = e.path().filename().string();
    if (!name.starts_with(".base-")) continue;
    if (name == keep || name == keep + ".versions") continue;
    doomed.push_back(e.path());
  }
  for (const auto& p : doomed) fs::remove_all(p, ec);
}

}  // namespace isol8::rootfs
