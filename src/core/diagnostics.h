#pragma once
// What `isol8 doctor` reports: each check of the host's ability to run sandboxes, with the
// reason when something is missing.

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "backends/host_check.h"
#include "isol8/types.h"

namespace isol8 {

// Runs every check, with the configured options (id-map base, seccomp, network pool) that the
// native backend would run with. `Fail` means the native backend cannot run at all.
std::vector<Check> run_diagnostics(const Options& options);

const char* to_string(Check::Level level);
nlohmann::json to_json(const std::vector<Check>& checks);

}  // namespace isol8
