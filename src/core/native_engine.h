#pragma once
// An engine that can only have the native backend, for a program that must not link the others
// (the isol8 binary, which starts for every run and hands docker runs to isol8-full).

#include <memory>

#include "isol8/engine.h"

namespace isol8 {

// Engine::create with the native backend, whatever options.backend says.
Result<std::unique_ptr<Engine>> create_native_engine(Options options);

}  // namespace isol8
