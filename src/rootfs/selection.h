#pragma once
// Which root filesystem a run uses (called once from src/core/run_preparation.cc):
//   1. Options::native.root_dir when set (config native.rootDir): that directory, no manifest;
//   2. Options::image when set: that root of the store; missing -> an error naming the image and
//      the store, with a hint at `isol8 setup` / `isol8 build`;
//   3. with packages to install: a custom root of the runtime (`isol8 build --install`) whose
//      baked-in packages are exactly the requested set, else the smallest superset of it
//      (upstream's image matching); nothing is installed at run time then;
//   4. otherwise `isol8:<runtime>` when the store holds it;
//   5. otherwise the host's read-only system directories (root_dir "").
// With the Docker backend only the image name is chosen: Options::image, else isol8:<runtime>.

#include <string>
#include <vector>

#include "isol8/result.h"
#include "isol8/types.h"
#include "rootfs/store.h"

namespace isol8::rootfs {

struct RootSelection {
  std::string root_dir;     // "" = the host's system directories
  std::string image;        // the store entry's name, "" when none
  std::string image_setup;  // the root's own setup script (manifest), "" when none
  // The requested packages the root has baked in already (all of them or none).
  bool packages_baked_in = false;
};

Result<RootSelection> select_root(const Options& options, const std::string& runtime,
                                  const std::vector<std::string>& packages = {});

// Rule 3 on a list of roots: the one whose packages equal `wanted` (as a set), else the one with
// the fewest packages that holds all of `wanted`; roots of other runtimes never match. Null when
// none does or `wanted` is empty.
const StoredRoot* match_packages(const std::vector<StoredRoot>& roots, const std::string& runtime,
                                 const std::vector<std::string>& wanted);

// The image's setup script, then the request's, one after the other ("" when both are empty).
std::string compose_setup_script(const std::string& image_setup, const std::string& request_setup);

}  // namespace isol8::rootfs
