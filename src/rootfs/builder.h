#pragma once
// Builds roots from the embedded recipes (rootfs/*.sh): the Debian base once per setup (kept as
// <store>/.base-<hash>), then one runtime layer per root, each in a .build-* directory renamed
// into place at the end. Also custom roots (`isol8 build`): a copy of isol8:<runtime> with
// packages installed into it. Building needs root (debootstrap, chroot, mounts in a private
// mount namespace).

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "isol8/result.h"
#include "rootfs/store.h"

namespace isol8::rootfs {

// The runtimes that have a recipe, in setup order.
const std::vector<std::string>& buildable_runtimes();

// Where a build reports to. The log receives every step's full output.
struct BuildContext {
  const RootfsStore* store = nullptr;
  int log_fd = -1;
  std::string log_path;
  int cancel_fd = -1;                             // readable: stop (Ctrl-C)
  std::function<void(std::string_view)> on_step;  // "debootstrap bookworm", "python: apt-get"
  std::function<void()> tick;                     // about once a second during a step
  // Set once the base was (re)built by this context: --force rebuilds it once, not per runtime.
  mutable bool base_rebuilt = false;
};

enum class SetupOutcome { kUpToDate, kBuilt };

// "Building runtime roots needs root ..." when not root, else ok.
Result<void> check_can_build();

// The recipe hash of isol8:<runtime> with `dependencies` (config `dependencies.<runtime>`,
// de-duplicated and sorted) baked in: the recipes' hash alone when there are none, so that roots
// built before the key existed stay up to date.
std::string runtime_root_hash(const std::string& runtime,
                              const std::vector<std::string>& dependencies);

// Builds isol8:<runtime> with `dependencies` installed (as `isol8 build --install` installs
// packages) unless the store holds it with the same runtime_root_hash (or `force`). Call with
// the store's writers' lock held.
Result<SetupOutcome> ensure_runtime_root(const BuildContext& ctx, const std::string& runtime,
                                         const std::vector<std::string>& dependencies, bool force);

struct CustomBuild {
  std::string runtime;
  std::vector<std::string> packages;  // validated, de-duplicated, sorted by the caller
  // The config's dependencies.<runtime>, for isol8:<runtime> when it has to be built first.
  std::vector<std::string> runtime_dependencies;
  std::string setup;  // stored in the manifest, run before each request's own
  std::string tag;
  bool force = false;
};

// sha256 over the runtime, packages and setup script (upstream's deps hash inputs) and the base
// root's recipe hash.
std::string custom_hash(const CustomBuild& spec, const std::string& base_recipe_hash);

// Builds a custom root from isol8:<runtime> (built first when missing). Call with the lock held.
Result<StoredRoot> build_custom_root(const BuildContext& ctx, const CustomBuild& spec);

// Removes bases other than the current one (after a setup).
void prune_bases(const RootfsStore& store);

}  // namespace isol8::rootfs
