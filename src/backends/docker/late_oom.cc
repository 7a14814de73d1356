#include "backends/docker/late_oom.h"

#include <thread>

namespace isol8::docker {

bool await_late_oom_flag(const std::function<Result<bool>()>& oom_flag,
                         std::chrono::milliseconds window, std::chrono::milliseconds pause) {
  const auto until = std::chrono::steady_clock::now() + window;
  while (std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(pause);
    auto flag = oom_flag();
    if (!flag) return false;
    if (*flag) return true;
  }
  return false;
}

}  // namespace isol8::docker
