#pragma once
// The Docker Engine API backend: one container per run (the CLI's one-shot path), or, for a
// long-lived library engine with a pool size, an exec in a warm pooled container.

#include <memory>

#include "backends/backend.h"
#include "isol8/types.h"

namespace isol8 {

// Connects to DOCKER_HOST (or /var/run/docker.sock), negotiates the API version and loads the
// seccomp profile. Fails with "Docker is not running or not reachable at <socket>..." when no
// daemon answers.
Result<std::unique_ptr<Backend>> make_docker_backend(const Options& options);

}  // namespace isol8
