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

// An ExecutionRequest from upstream's JSON form (runtime, code, codeUrl, codeHash,
// allowInsecureCodeUrl, cmd, stdin, env, timeoutMs, fileExtension, workdir, setupScript, files,
// installPackages, outputPaths, metadata). Every field's type is checked and a refusal names it,
// prefixed with `where`: "request.timeoutMs must be an integer number of milliseconds". Unknown
// fields are ignored, as upstream does. Whether the values make sense (exactly one of code and
// cmd, the runtime's name) is the engine's check, as for every caller.
Result<ExecutionRequest> request_from_json(const nlohmann::json& j,
                                           std::string_view where = "request");
// The same fields, for a client; absent ones are left out.
nlohmann::json to_json(const ExecutionRequest& request);

}  // namespace isol8
