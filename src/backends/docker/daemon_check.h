#pragma once
// Whether a Docker daemon listens, as `isol8 doctor` reports it (a connect, no request).

#include "backends/host_check.h"

namespace isol8::docker {

Check check_daemon();

}  // namespace isol8::docker
