#pragma once
// The native backend: namespaces, a pivot_root'ed read-only root and dropped privileges, with no
// daemon and no image needed.

#include <memory>

#include "backends/backend.h"
#include "backends/native/spawn_plan.h"

namespace isol8 {

class NativeBackend final : public Backend {
 public:
  explicit NativeBackend(NativeSettings settings) : settings_(std::move(settings)) {}
  const char* name() const override { return "native"; }
  bool has_executable(const std::string& root_dir, const std::string& path) const override;
  Result<RunOutcome> run(const RunSpec& spec, OutputSink& sink,
                         const RunControl& control) override;

 private:
  NativeSettings settings_;
};

// Decides the id mapping for the calling user (root, subordinate ids, or a single id).
std::unique_ptr<Backend> make_native_backend(uint32_t id_map_base, std::string hostname);

}  // namespace isol8
