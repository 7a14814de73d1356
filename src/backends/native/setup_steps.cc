#include "backends/native/setup_steps.h"

#include <algorithm>

namespace isol8 {

std::vector<SetupStepPlan> setup_step_plans(const RunSpec& spec,
                                            const std::vector<std::string>& run_env) {
  std::vector<SetupStepPlan> steps;
  for (const SetupCommand& command : spec.setup_commands) {
    SetupStepPlan step{command.argv, run_env,
                       command.timeout.count() > 0 ? command.timeout : spec.timeout};
    for (const std::string& entry : command.env) {
      const std::string key = entry.substr(0, entry.find('=') + 1);
      std::erase_if(step.env, [&](const std::string& e) { return e.starts_with(key); });
      step.env.push_back(entry);
    }
    steps.push_back(std::move(step));
  }
  if (!spec.setup_script.empty()) {
    steps.push_back(SetupStepPlan{{kSetupShell, "-c", spec.setup_script}, run_env, spec.timeout});
  }
  return steps;
}

std::vector<std::chrono::milliseconds> setup_step_timeouts(const RunSpec& spec) {
  std::vector<std::chrono::milliseconds> timeouts;
  for (const SetupCommand& command : spec.setup_commands) {
    timeouts.push_back(command.timeout.count() > 0 ? command.timeout : spec.timeout);
  }
  if (!spec.setup_script.empty()) timeouts.push_back(spec.timeout);
  return timeouts;
}

}  // namespace isol8
