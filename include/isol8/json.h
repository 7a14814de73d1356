#pragma once
// JSON forms of the public types, with upstream's field names (stdout, exitCode, durationMs, ...).

#include <nlohmann/json.hpp>

#include "isol8/types.h"

namespace isol8 {

nlohmann::json to_json(const ExecutionResult& result);
// The same, taking over the result's output text instead of copying it (which for a large
// output would double the memory it takes).
nlohmann::json to_json(ExecutionResult&& result);
nlohmann::json to_json(const StreamEvent& event);
nlohmann::json to_json(const NetworkLogEntry& entry);

}  // namespace isol8
