#pragma once
// Runtime images from the native backend's root filesystem store: `<store>/<name>/` is a root
// directory and `<store>/<name>.json` its manifest. Each root is streamed as a tar (libarchive
// read_disk: symlinks are archived as links, never followed; numeric owners kept) into
// POST /images/create?fromSrc=- and tagged isol8:<name>, with labels org.isol8.runtime and
// org.isol8.source.

#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "backends/docker/client.h"

namespace isol8::docker {

// The default store until src/rootfs/store.h lands: Options::rootfs_store, else
// $ISOL8_ROOTFS_STORE, else /var/lib/isol8/rootfs for root and ~/.local/share/isol8/rootfs
// otherwise.
std::filesystem::path default_rootfs_store(const std::string& configured);

// Streams the directory `root` as a tar through `write` (chunks of up to 256 KiB).
Result<void> stream_directory_tar(const std::filesystem::path& root, const ChunkWriter& write);

struct ImportedImage {
  std::string name;  // the store entry (runtime)
  std::string tag;   // isol8:<name>
  std::string id;
};

// Imports every root of the store (or only `names` when not empty) as isol8:<name>. `progress`
// gets one line per image. Errors name the root that failed.
Result<std::vector<ImportedImage>> import_store_roots_to_docker(
    DockerClient& client, const std::filesystem::path& store, const std::vector<std::string>& names,
    const std::function<void(const std::string&)>& progress);

// The image label that carries a custom root's setup script (hex: a LABEL change cannot hold
// newlines or quotes safely). The docker backend runs it before each request's own setup, as
// the native backend runs the manifest's.
inline constexpr const char* kSetupLabel = "org.isol8.setup.hex";
std::string to_hex(std::string_view data);

// The image label that says the root has what the run's backstop needs (bash and sleep; see
// invocation.h): only then does a run get one, so that a run in another image (any Docker image
// given with --image, a root without a shell) starts exactly as before.
inline constexpr const char* kBackstopLabel = "org.isol8.backstop";
// True when the root directory has bash and sleep (in /bin or /usr/bin).
bool root_supports_backstop(const std::filesystem::path& root);
std::optional<std::string> from_hex(std::string_view hex);

// Upstream's labels for what an image was built from: the build inputs' hash (here the root's
// manifest recipe_hash, so that `isol8 setup --backend docker` sees an outdated image) and the
// baked-in packages, sorted and comma-joined.
inline constexpr const char* kBuildHashLabel = "org.isol8.build.hash";
inline constexpr const char* kDependenciesLabel = "org.isol8.dependencies";

// What an imported image records about its root (labels; empty ones are left out).
struct RootLabels {
  std::string setup;                  // the root's setup script (kSetupLabel)
  std::string build_hash;             // kBuildHashLabel
  std::vector<std::string> packages;  // kDependenciesLabel
};

// Imports one root directory as `repo:tag` with the labels of `labels`; kBackstopLabel when
// root_supports_backstop.
Result<std::string> import_root_as_image(DockerClient& client, const std::filesystem::path& root,
                                         const std::string& repo, const std::string& tag,
                                         const std::string& runtime, const RootLabels& labels = {});

}  // namespace isol8::docker
