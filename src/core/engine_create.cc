// Engine::create with the backend options.backend names: a translation unit of its own, so that a
// program that makes its engines with Engine::create(options, maker) (the isol8 binary) does not
// link every backend through make_backend.

#include "backends/factory.h"
#include "isol8/engine.h"

namespace isol8 {

Result<std::unique_ptr<Engine>> Engine::create(Options options) {
  return create(std::move(options), &make_backend);
}

}  // namespace isol8
