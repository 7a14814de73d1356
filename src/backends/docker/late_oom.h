#pragma once
// Whether the daemon reports an OOM kill late. On cgroup v1, containerd may send a container's OOM
// event after its exit event (containerd/containerd#12714), and the daemon then sets
// State.OOMKilled after a first inspect already said false.

#include <chrono>
#include <functional>

#include "isol8/result.h"

namespace isol8::docker {

inline constexpr std::chrono::milliseconds kLateOomWindow{300};

// Asks `oom_flag` (an inspect's State.OOMKilled) again every `pause` until it says true or
// `window` has passed; false also when asking fails.
bool await_late_oom_flag(const std::function<Result<bool>()>& oom_flag,
                         std::chrono::milliseconds window = kLateOomWindow,
                         std::chrono::milliseconds pause = std::chrono::milliseconds(20));

}  // namespace isol8::docker
