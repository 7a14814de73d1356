#pragma once
// The Docker Engine API backend. Until it lands, selecting it fails with a clear message.

#include <memory>

#include "backends/backend.h"

namespace isol8 {

Result<std::unique_ptr<Backend>> make_docker_backend();

}  // namespace isol8
