// Linked into a test binary whose backend suites run on: native (see backend_params.h).
#include "support/backend_params.h"

namespace isol8::test {

std::vector<BackendKind> backends_under_test() { return {BackendKind::kNative}; }

}  // namespace isol8::test
