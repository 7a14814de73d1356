#include "backends/docker/docker_backend.h"

namespace isol8 {

Result<std::unique_ptr<Backend>> make_docker_backend() {
  return make_error(
      "The docker backend is not available yet in this version of isol8. Use --backend native "
      "(the default), which needs no Docker.");
}

}  // namespace isol8
