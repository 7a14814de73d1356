#pragma once
// A Backend for unit tests of what happens before a run (runtime detection, root selection): it
// answers which executables its file system has, records the roots it was asked about, and runs
// nothing.

#include <optional>
#include <set>
#include <string>
#include <vector>

#include "backends/backend.h"

namespace isol8::test {

class FakeBackend final : public Backend {
 public:
  // Every executable exists, in any root.
  FakeBackend() = default;
  // Exactly `executables` exist (in any root).
  explicit FakeBackend(std::set<std::string> executables) : executables_(std::move(executables)) {}

  const char* name() const override { return "fake"; }
  bool has_executable(const std::string& root_dir, const std::string& path) const override;
  Result<RunOutcome> run(const RunSpec&, OutputSink&, const RunControl&) override;

  // The root_dir of every has_executable() call, in order.
  const std::vector<std::string>& queried_roots() const { return queried_roots_; }

 private:
  std::optional<std::set<std::string>> executables_;
  mutable std::vector<std::string> queried_roots_;
};

}  // namespace isol8::test
