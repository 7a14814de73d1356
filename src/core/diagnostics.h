#pragma once
// What `isol8 doctor` reports: each check of the host's ability to run sandboxes, with the
// reason when something is missing.

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "isol8/types.h"

namespace isol8 {

struct Check {
  enum class Level { kOk, kInfo, kWarn, kFail };
  Level level = Level::kOk;
  std::string name;
  std::string detail;
};

// Runs every check, for runs with `options` (the config's: store, native.rootDir,
// native.filteredMode). `Fail` means the native backend cannot run at all.
std::vector<Check> run_diagnostics(const Options& options = {});

const char* to_string(Check::Level level);
nlohmann::json to_json(const std::vector<Check>& checks);

}  // namespace isol8
