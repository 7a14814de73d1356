// A translation unit of its own: Engine::create(options) (engine_create.cc) names every backend
// through make_backend; this one names only the native backend's maker.

#include "core/native_engine.h"

#include <utility>

#include "backends/factory.h"

namespace isol8 {

Result<std::unique_ptr<Engine>> create_native_engine(Options options) {
  return Engine::create(std::move(options), &make_native_backend_for);
}

}  // namespace isol8
