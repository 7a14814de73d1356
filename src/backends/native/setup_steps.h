#pragma once
// The setup phase of a native run, one-shot or in a session: each of RunSpec::setup_commands
// (package installs), then the setup script under bash, in that order, each with its own
// environment and time limit.

#include <chrono>
#include <string>
#include <vector>

#include "backends/backend.h"

namespace isol8 {

struct SetupStepPlan {
  std::vector<std::string> argv;  // argv[0] is the path inside the root
  std::vector<std::string> env;   // the run's environment, with the command's own entries
  std::chrono::milliseconds timeout{0};
};

// `run_env` is the environment the program gets (KEY=VALUE); a command's entries replace the
// same names in it.
std::vector<SetupStepPlan> setup_step_plans(const RunSpec& spec,
                                            const std::vector<std::string>& run_env);

// Just the time limits, in order.
std::vector<std::chrono::milliseconds> setup_step_timeouts(const RunSpec& spec);

}  // namespace isol8
