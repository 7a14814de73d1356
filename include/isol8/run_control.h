#pragma once
// How a caller stops a run from outside; shared by the engine's API and the backends.

namespace isol8 {

// When `cancel_fd` becomes readable (an eventfd, a signalfd, a pipe), the sandbox is killed and
// the result has status kKilled. The engine never reads from the fd, so a signalfd still tells
// the caller which signal arrived.
struct RunControl {
  int cancel_fd = -1;
};

}  // namespace isol8
