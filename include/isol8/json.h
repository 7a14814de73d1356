#pragma once
// JSON forms of the public types, with upstream's field names (stdout, exitCode, durationMs, ...).

#include <nlohmann/json.hpp>

#include "isol8/result.h"
#include "isol8/types.h"

namespace isol8 {

nlohmann::json to_json(const ExecutionResult& result);
// The same, taking over the result's output text instead of copying it (which for a large
// output would double the memory it takes).
nlohmann::json to_json(ExecutionResult&& result);
nlohmann::json to_json(const StreamEvent& event);
nlohmann::json to_json(const NetworkLogEntry& entry);

// ExecutionRequest with upstream's names: runtime, code, codeUrl, codeHash, allowInsecureCodeUrl,
// cmd, stdin, env, timeoutMs, fileExtension, workdir, setupScript, files (path -> UTF-8 text),
// installPackages, metadata. Fields absent from the JSON keep their defaults; a field of the
// wrong type is refused naming it ("ExecutionRequest.timeoutMs must be a number").
nlohmann::json to_json(const ExecutionRequest& request);
Result<ExecutionRequest> request_from_json(const nlohmann::json& j);

}  // namespace isol8
