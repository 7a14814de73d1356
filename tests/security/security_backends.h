#pragma once
// The one place that says which backends the security suite runs against. Every test of
// tests/security is a TEST_P over security_backends(): each case runs on the native backend and
// on the Docker backend. The docker cases need a daemon at DOCKER_HOST with the isol8:<runtime>
// images (scripts/test starts one and imports them; CI always has it); without one they are
// skipped, each saying why.

#include <cstdlib>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "isol8/engine.h"
#include "isol8/types.h"
#include "support/native_helpers.h"

namespace isol8::test::security {

// The backends every attack is run against.
inline std::vector<BackendKind> security_backends() {
  return {BackendKind::kNative, BackendKind::kDocker};
}

inline std::string backend_name(BackendKind kind) { return to_string(kind); }

// Test-name suffix for INSTANTIATE_TEST_SUITE_P: ".../native".
struct BackendParamName {
  template <class ParamInfo>
  std::string operator()(const ParamInfo& info) const {
    return backend_name(info.param);
  }
};

// Engine options selecting `kind`. `id_map_base` keeps this test process's sandbox users apart
// from those of other test processes (the native backend's uid range; other backends ignore it).
inline Options backend_options(BackendKind kind, uint32_t id_map_base) {
  Options o;
  o.backend = kind;
  o.native.id_map_base = id_map_base;
  return o;
}

// The CLI flags selecting `kind` (after "run").
inline std::vector<std::string> backend_cli_flags(BackendKind kind) {
  return {"--backend", backend_name(kind)};
}

// "" when runs on `kind` can happen here, else why not (the test is then skipped).
inline std::string backend_unavailable_reason(BackendKind kind, uint32_t id_map_base) {
  if (kind == BackendKind::kNative) {
    if (std::string reason = sandbox_unavailable_reason(); !reason.empty()) return reason;
  }
  auto engine = Engine::create(backend_options(kind, id_map_base));
  if (!engine) return backend_name(kind) + " backend unavailable: " + engine.error().message;
  if (kind == BackendKind::kDocker) {
    // A daemon answers; the images must be there too (a missing one names the setup command).
    for (const char* runtime : {"python", "bash"}) {
      ExecutionRequest probe;
      probe.runtime = runtime;
      probe.cmd = "true";
      if (auto r = (*engine)->execute(probe); !r) {
        return "docker backend unavailable (" + std::string(runtime) + "): " + r.error().message;
      }
    }
  }
  return "";
}

}  // namespace isol8::test::security

// Instantiates a TEST_P suite once per backend of security_backends().
#define ISOL8_SECURITY_SUITE(fixture)                                                         \
  INSTANTIATE_TEST_SUITE_P(Backends, fixture,                                                 \
                           ::testing::ValuesIn(::isol8::test::security::security_backends()), \
                           ::isol8::test::security::BackendParamName())
