#pragma once
// What ends a CLI run from outside, as one fd for RunControl::cancel_fd: SIGINT or SIGTERM, or
// the reader of our stdout or stderr going away (`isol8 run ... | head -1`). The sandbox is then
// killed at once, and the CLI exits as a shell expects: 130 / 143 for the signals, and 141 (a
// process killed by SIGPIPE) for the closed output.

#include "common/unique_fd.h"

namespace isol8::cli {

// The exit status of a process killed by SIGPIPE, as shells report it.
inline constexpr int kClosedOutputExit = 141;

class RunInterrupts {
 public:
  // Blocks SIGINT and SIGTERM into a signalfd and watches stdout and stderr where they are pipes
  // or sockets (a file or a terminal has no reader to lose).
  RunInterrupts();
  RunInterrupts(const RunInterrupts&) = delete;
  RunInterrupts& operator=(const RunInterrupts&) = delete;

  // Readable when any source fired (an epoll set; the engine only polls it).
  int fd() const { return epoll_ ? epoll_.get() : signals_.get(); }
  // A write to stdout or stderr failed with EPIPE: the run is cancelled.
  void note_output_closed();
  // The signal that arrived (SIGINT, SIGTERM), or 0.
  int received_signal() const;
  // A write to stdout or stderr failed with EPIPE.
  bool write_failed() const { return closed_noted_; }
  // The reader of stdout or stderr (a pipe or socket) is gone now.
  bool reader_lost() const;

 private:
  UniqueFd signals_;
  UniqueFd closed_;  // eventfd, written by note_output_closed()
  UniqueFd epoll_;
  bool closed_noted_ = false;
};

}  // namespace isol8::cli
