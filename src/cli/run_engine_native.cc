// The isol8 binary's engines for `isol8 run`: local and native only. It links no other backend
// and no client, which keeps the binary that starts for every run small (docs/benchmarks.md);
// other runs go to isol8-full (is_local_native_run).

#include "cli/commands.h"
#include "core/native_engine.h"

namespace isol8::cli {

Result<std::unique_ptr<Executor>> make_native_run_engine(const RunArgs& args,
                                                         const Options& options) {
  if (args.host || options.backend != BackendKind::kNative) {
    return make_error("internal error: this binary runs only local native runs (see isol8-full)");
  }
  auto engine = create_native_engine(options);
  if (!engine) return std::move(engine).error();
  return std::unique_ptr<Executor>(std::move(engine).value());
}

}  // namespace isol8::cli
