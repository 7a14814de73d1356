#pragma once
// How a caller controls a run from outside (stops it, feeds its stdin live); shared by the
// engine's API and the backends.

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
  // A live stdin for the program. When >= 0, the program's stdin gets the request's stdin data
  // and then what this fd yields, as it arrives, until the fd reaches EOF (a pipe or socket whose
  // writer closed its end); then the program sees EOF. The engine reads it only when poll says it
  // is readable (so it may be blocking), never writes to it and never closes it: the caller keeps
  // it open until the call returns. Bytes the program has not read when it ends are lost (the
  // engine reads ahead of the program by at most 64 KiB). -1: the program's stdin ends after the
  // request's stdin data, as always. (Local engines only: the remote engine does not carry it.)
  int stdin_fd = -1;
};

}  // namespace isol8
