#include "support/fake_backend.h"

namespace isol8::test {

bool FakeBackend::has_executable(const std::string& root_dir, const std::string& path) const {
  queried_roots_.push_back(root_dir);
  return !executables_ || executables_->count(path) > 0;
}

Result<RunOutcome> FakeBackend::run(const RunSpec&, OutputSink&, const RunControl&) {
  return make_error("FakeBackend does not run anything");
}

}  // namespace isol8::test
