#pragma once
// Request builders: what a test asks the engine (ExecutionRequest) or a backend (RunSpec) to run.

#include <string>

#include "backends/backend.h"
#include "isol8/engine.h"

namespace isol8::test {

// runtime bash, `cmd` as the command.
ExecutionRequest bash_request(std::string cmd);

// runtime python, `code` as the program.
ExecutionRequest python_request(std::string code);

// Writes `binary` (given on stdin) to /sandbox/x and runs it with `args` (under bash).
ExecutionRequest binary_request(const std::string& binary, const std::string& args = "");

// A backend run of `/usr/bin/python3 -c code` with the runtime's environment (PATH, HOME,
// LANG=C.UTF-8), network `mode` and a 60 s time limit.
RunSpec python_spec(const std::string& code, NetworkMode mode = NetworkMode::kFiltered);

}  // namespace isol8::test
