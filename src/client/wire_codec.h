#pragma once
// The client's side of upstream's wire format: requests and engine options as the server reads
// them, results and stream events as it writes them (field names as upstream's, see
// docs/server.md). Results from a server that is not ours lack our extra fields; what is missing
// gets a safe default, what has the wrong type is an error naming the field.

#include <nlohmann/json.hpp>

#include "isol8/result.h"
#include "isol8/types.h"

namespace isol8::client {

// Fails when a field cannot travel as JSON text (a file or stdin that is not UTF-8): upstream's
// wire carries them as strings.
Result<nlohmann::json> request_to_json(const ExecutionRequest& request);
// The engine options a run sends (what the server may apply per request): limits, network and
// its filter, secrets, image, logNetwork.
nlohmann::json options_to_json(const Options& options);

Result<ExecutionResult> result_from_json(const nlohmann::json& j);
// The same, moving the output out of `j` (no second copy of a large result).
Result<ExecutionResult> result_from_json(nlohmann::json&& j);
Result<StreamEvent> event_from_json(const nlohmann::json& j);

}  // namespace isol8::client
