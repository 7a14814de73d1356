#pragma once
// How a caller stops a run from outside; shared by the engine's API and the backends.

namespace isol8 {

// How a caller controls one run from outside.
struct RunControl {
  // When this fd becomes readable (an eventfd, a signalfd, a pipe, an epoll set of those), the
  // sandbox is killed and the result has status kKilled. The engine never reads from the fd, so
  // a signalfd still tells the caller which signal arrived.
  int cancel_fd = -1;
  // execute_stream only: false leaves the result's stdout_data and stderr_data without the
  // program's output (the events were its only copy), so that the engine's memory stays flat
  // however much the program prints, instead of growing to the output cap.
  bool keep_streamed_output = true;
};

}  // namespace isol8
