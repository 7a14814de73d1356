#pragma once
// Step 12: watch a running sandbox until it is gone: feed stdin, pump stdout/stderr to the sink,
// read the child's reports, enforce the deadline and honour cancellation.

#include <poll.h>
#include <signal.h>

#include <chrono>
#include <functional>
#include <optional>
#include <string_view>
#include <vector>

#include "backends/backend.h"
#include "backends/native/sandbox_process.h"
#include "common/stdin_feed.h"
#include "common/unique_fd.h"
#include "namespaces/child_report.h"

namespace isol8 {

struct SupervisionResult {
  bool mounted = false;            // init reported that the sandbox's root is built
  std::optional<int> wait_status;  // the program's, as reported by init
  // The setup phase's: the wait status of the step that ended it (the last, or the first that
  // failed) and that step's index; unset when the phase did not end (or there was none).
  std::optional<int> setup_status;
  size_t setup_step = 0;
  size_t setup_steps_reported = 0;      // how many setup steps reported their exit
  std::vector<int> setup_reports;       // wait statuses, in the order the steps ran
  std::optional<ChildMessage> failure;  // a setup step that failed in the child
  bool timed_out = false;
  bool cancelled = false;
  std::chrono::milliseconds duration{0};
};

// Writing to a pipe whose reader has gone raises SIGPIPE. While stdin is fed, SIGPIPE is blocked
// for this thread and a pending one is consumed, so neither the library's caller nor its signal
// handlers ever see it.
class SigpipeGuard {
 public:
  SigpipeGuard();
  ~SigpipeGuard();
  SigpipeGuard(const SigpipeGuard&) = delete;
  SigpipeGuard& operator=(const SigpipeGuard&) = delete;

 private:
  sigset_t old_;
};

// Reads what is available from `fd` into the sink; returns false at EOF or on error.
bool pump(int fd, OutputStream stream, OutputSink& sink, bool setup_phase = false);

// The poll entry of a program's stdin: its pipe (for writing) while bytes are pending, the
// feed's source (for reading) while none are; fd -1 once the pipe is closed.
pollfd stdin_poll_entry(const StdinFeed& feed, const UniqueFd& program_stdin);
// After poll reported that entry: writes what the pipe takes, or refills from the source; closes
// the pipe (the program's EOF) once the feed is done or the program no longer reads.
void feed_stdin(StdinFeed& feed, UniqueFd& program_stdin);

// Called by supervise as init reports, each at most once (also for a report that was already on
// its way when a timeout or a cancel killed init).
struct SupervisionHooks {
  // The sandbox's root is built: its mounts, and the RCU grace period its pivot_root waits for,
  // are done.
  std::function<void()> on_mounted;
  // The program exited; init is still ending the sandbox.
  std::function<void()> on_program_exit;
};

// `stdin_data` then, when `control.stdin_fd` is set, what that fd yields go to the program's
// stdin. `setup_timeouts`: the time limit of each setup step, in order (empty: no setup phase);
// `timeout`: the program's. Each limit starts when the step before ends.
SupervisionResult supervise(SandboxProcess& sandbox, std::string_view stdin_data,
                            const std::vector<std::chrono::milliseconds>& setup_timeouts,
                            std::chrono::milliseconds timeout, OutputSink& sink,
                            const RunControl& control, const SupervisionHooks& hooks = {});

}  // namespace isol8
