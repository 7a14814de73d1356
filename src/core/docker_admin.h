#pragma once
// The Docker operations of the CLI's maintenance commands (cleanup, setup and build with
// --backend docker, rootfs import <image>), so that the CLI never reaches into the Docker
// backend. Errors carry the daemon's own messages.

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "isol8/result.h"

namespace isol8 {

namespace docker {
class DockerClient;
}

struct DockerContainerSummary {
  std::string id;
  std::string state;
  std::string image;
};

struct DockerImageSummary {
  std::string id;   // sha256:...
  std::string tag;  // the first repo tag, or "<none>"
};

// What an image made from a root records about it (labels): its setup script, the hash of what
// built it (recipes and dependencies) and the packages baked in.
struct RootImageLabels {
  std::string setup;
  std::string build_hash;
  std::vector<std::string> packages;
};

class DockerAdmin {
 public:
  // DOCKER_HOST or the default socket; nothing is asked of the daemon yet.
  static Result<std::unique_ptr<DockerAdmin>> from_environment();
  // from_environment, then ping: "Docker is not running or not reachable at <socket>..." when
  // no daemon answers.
  static Result<std::unique_ptr<DockerAdmin>> connect();
  ~DockerAdmin();
  DockerAdmin(const DockerAdmin&) = delete;
  DockerAdmin& operator=(const DockerAdmin&) = delete;

  Result<void> ping();

  // The containers labelled isol8.managed=true, in every state.
  Result<std::vector<DockerContainerSummary>> list_containers();
  // The images labelled org.isol8.runtime.
  Result<std::vector<DockerImageSummary>> list_images();
  Result<void> remove_container(const std::string& id);  // forced: a running one is killed
  Result<void> remove_image(const std::string& id);      // forced

  // True when `image` exists and need not be imported again from `root`: it was imported from
  // a root built the same way (`build_hash`), and it has the backstop label or the root could
  // not give it one (docker/invocation.h).
  Result<bool> image_up_to_date(const std::string& image, const std::filesystem::path& root,
                                const std::string& build_hash);
  // Imports the root directory as repo:tag with the runtime's labels and `labels`; returns the
  // image id.
  Result<std::string> import_root(const std::filesystem::path& root, const std::string& repo,
                                  const std::string& tag, const std::string& runtime,
                                  const RootImageLabels& labels);
  // The image's filesystem as a tar: a container is created (never started), exported and
  // removed. "Docker image <image> not found" when there is no such image.
  Result<std::string> export_image_filesystem(const std::string& image);

 private:
  explicit DockerAdmin(std::shared_ptr<docker::DockerClient> client);

  std::shared_ptr<docker::DockerClient> client_;
};

}  // namespace isol8
