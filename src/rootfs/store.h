#pragma once
// The runtime root filesystem store. Layout (fixed; the Docker helper relies on it):
//
//   <store>/<name>/                  a root filesystem (name: "isol8:python" or a custom tag)
//   <store>/<name>.json              its manifest; written last, so a root without one is
//                                    incomplete: ignored, and removed by the next writer
//   <store>/.build-<name>-<pid>/     a root being built or imported, renamed into place at the end
//   <store>/.base-<hash>/            the Debian base that every runtime layer is copied from
//   <store>/logs/                    build logs
//   <store>/.lock                    writers (setup, build, import, rm) hold an flock on it
//
// Temporary entries carry the writer's pid, so those of dead writers are reclaimed.

#include <sys/types.h>

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/unique_fd.h"
#include "isol8/result.h"

namespace isol8::rootfs {

// What a root holds and how it was made.
struct Manifest {
  std::string name;                             // "isol8:python", "my-tag"
  std::string runtime;                          // python, node, bun, deno, bash
  std::map<std::string, std::string> versions;  // interpreter and tool versions
  std::vector<std::string> packages;            // baked-in packages (custom roots), sorted
  std::string setup;                            // setup script run before every request's own
  std::string recipe_hash;                      // sha256 of the recipes (or custom build inputs)
  std::string base;                             // what it was built from ("isol8:python", ...)
  std::string created;                          // ISO 8601, UTC
  std::string source = "recipe";                // "recipe" | "import"
};

nlohmann::json to_json(const Manifest& m);
// "node 22.23.5, npm 10.9.9, bash 5.2.15, debian 12.12; packages: is-number": the runtime's own
// versions first, for `isol8 doctor` and --debug.
std::string describe_contents(const Manifest& m);
// Rejects a manifest with missing or mistyped fields, naming the field.
Result<Manifest> manifest_from_json(const nlohmann::json& j);

struct StoredRoot {
  std::filesystem::path dir;
  Manifest manifest;
};

// /var/lib/isol8/rootfs for root, else ~/.local/share/isol8/rootfs; ISOL8_ROOTFS_STORE overrides
// both. Options::rootfs_store (config native.rootfsStore) overrides this: see resolve_store_path.
std::filesystem::path default_store_path();
// `configured` when non-empty, else default_store_path().
std::filesystem::path resolve_store_path(const std::string& configured);

// Names of roots: `isol8:<runtime>` or a custom tag. They become file names, so they are
// restricted: `Invalid image tag: "<x>". ...` otherwise.
Result<void> validate_root_name(std::string_view name);
// upstream's package-name check: `Invalid package name: "<x>". Only alphanumeric, -, _, ., /, @,
// and = are allowed.`
Result<void> validate_package_name(std::string_view name);

// A directory being filled with a new root; removed (with its contents) when destroyed unless
// committed.
class PendingRoot {
 public:
  PendingRoot() = default;
  PendingRoot(std::filesystem::path dir, std::string name);
  PendingRoot(PendingRoot&& other) noexcept;
  PendingRoot& operator=(PendingRoot&& other) noexcept;
  PendingRoot(const PendingRoot&) = delete;
  PendingRoot& operator=(const PendingRoot&) = delete;
  ~PendingRoot();

  const std::filesystem::path& dir() const { return dir_; }
  const std::string& name() const { return name_; }
  void release() { dir_.clear(); }  // ownership passed on (committed)

 private:
  std::filesystem::path dir_;
  std::string name_;
};

class RootfsStore {
 public:
  // Opens the store at `path`. With `create`, the directory is made (mode 0755) if missing;
  // without, a missing store is an empty one.
  static Result<RootfsStore> open(const std::filesystem::path& path, bool create = false);

  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path log_dir() const { return path_ / "logs"; }

  // The complete root of that name (directory and a valid manifest), if any.
  std::optional<StoredRoot> find(std::string_view name) const;
  // Every complete root, sorted by name.
  std::vector<StoredRoot> list() const;

  // Takes the writers' lock (blocking). Held by the returned fd.
  Result<UniqueFd> lock_for_writing() const;

  // Removes what dead writers left: .build-* entries of dead pids, roots without a manifest
  // and manifests without a root. Call with the writers' lock held.
  Result<void> reclaim() const;

  // An empty directory <store>/.build-<name>-<pid> for a new root of that name.
  Result<PendingRoot> begin(std::string_view name) const;

  // Moves a finished root into place as `manifest.name` and writes its manifest last. An existing
  // root of that name is an error unless `replace`; then the two are swapped atomically
  // (renameat2 RENAME_EXCHANGE) and the old one is deleted, so that readers always see a whole
  // root.
  Result<StoredRoot> commit(PendingRoot pending, const Manifest& manifest, bool replace) const;

  // Deletes a root and its manifest (manifest first, so that it is never seen half deleted).
  Result<void> remove(std::string_view name) const;

 private:
  explicit RootfsStore(std::filesystem::path path) : path_(std::move(path)) {}
  std::filesystem::path path_;
};

}  // namespace isol8::rootfs
