#include "backends/native/supervisor.h"

#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <ctime>

namespace isol8 {
namespace {

using Clock = std::chrono::steady_clock;

// After init is gone every process of the sandbox is gone, so the pipes reach EOF at once; this
// bound only guards against a process stuck in the kernel.
constexpr std::chrono::milliseconds kDrainLimit{2000};

int exit_code_of(int wait_status) {
  if (WIFEXITED(wait_status)) return WEXITSTATUS(wait_status);
  if (WIFSIGNALED(wait_status)) return 128 + WTERMSIG(wait_status);
  return 1;
}

// Reads one report if there is one; returns false when none was waiting.
bool read_report(int fd, SupervisionResult& result, bool& open) {
  ChildMessage msg;
  const ssize_t n = ::recv(fd, &msg, sizeof msg, MSG_DONTWAIT);
  if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) open = false;
  if (n != static_cast<ssize_t>(sizeof msg)) return false;
  if (msg.kind == ChildMessage::kFailure && !result.failure) result.failure = msg;
  if (msg.kind == ChildMessage::kMounted) result.mounted = true;
  if (msg.kind == ChildMessage::kExited) result.wait_status = msg.wait_status;
  if (msg.kind == ChildMessage::kSetupExited) result.setup_reports.push_back(msg.wait_status);
  return true;
}

bool has_input(int fd) {
  pollfd p{fd, POLLIN, 0};
  return ::poll(&p, 1, 0) > 0 && (p.revents & POLLIN) != 0;
}

int millis_until(Clock::time_point deadline) {
  const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now());
  return static_cast<int>(std::max<int64_t>(0, left.count()));
}

}  // namespace

SigpipeGuard::SigpipeGuard() {
  sigset_t pipe_only;
  sigemptyset(&pipe_only);
  sigaddset(&pipe_only, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &pipe_only, &old_);
}

SigpipeGuard::~SigpipeGuard() {
  sigset_t pipe_only;
  sigemptyset(&pipe_only);
  sigaddset(&pipe_only, SIGPIPE);
  const struct timespec zero = {0, 0};
  while (sigtimedwait(&pipe_only, nullptr, &zero) > 0) {
  }
  pthread_sigmask(SIG_SETMASK, &old_, nullptr);
}

// Reads what is available; returns false at EOF or on error.
bool pump(int fd, OutputStream stream, OutputSink& sink, bool setup_phase) {
  std::array<char, 65536> buf;
  const ssize_t n = ::read(fd, buf.data(), buf.size());
  if (n < 0) return errno == EINTR || errno == EAGAIN;
  if (n == 0) return false;
  const std::string_view data(buf.data(), static_cast<size_t>(n));
  if (setup_phase) {
    sink.on_setup_output(stream, data);
  } else {
    sink.on_output(stream, data);
  }
  return true;
}

pollfd stdin_poll_entry(const StdinFeed& feed, const UniqueFd& program_stdin) {
  if (!program_stdin) return {-1, 0, 0};
  if (!feed.pending().empty()) return {program_stdin.get(), POLLOUT, 0};
  return {feed.source_to_poll(), POLLIN, 0};
}

void feed_stdin(StdinFeed& feed, UniqueFd& program_stdin) {
  if (!program_stdin) return;
  if (const std::string_view bytes = feed.pending(); !bytes.empty()) {
    const ssize_t w = ::write(program_stdin.get(), bytes.data(), bytes.size());
    if (w > 0) feed.consumed(static_cast<size_t>(w));
    if (w < 0 && errno != EAGAIN && errno != EINTR) feed.abandon();  // it no longer reads
  } else {
    feed.refill();
  }
  if (feed.done()) program_stdin.reset();  // EOF for the program
}

SupervisionResult supervise(SandboxProcess& sandbox, std::string_view stdin_data,
                            const std::vector<std::chrono::milliseconds>& setup_timeouts,
                            std::chrono::milliseconds timeout, OutputSink& sink,
                            const RunControl& control, const SupervisionHooks& hooks) {
  SupervisionResult result;
  bool mounted_told = false;
  bool program_exit_told = false;
  SigpipeGuard sigpipe_guard;
  SandboxPipes& pipes = sandbox.pipes();
  const auto start = Clock::now();
  // The limit applies to each phase on its own (as upstream's): each setup step has its own,
  // and the code phase's starts when the setup phase ends.
  auto deadline = start + (setup_timeouts.empty() ? timeout : setup_timeouts.front());
  std::optional<Clock::time_point> drain_deadline;
  bool out_open = true, err_open = true, sync_open = true;
  bool setup_out_open = static_cast<bool>(pipes.setup_stdout_read);
  bool setup_err_open = static_cast<bool>(pipes.setup_stderr_read);
  bool setup_reported = false;
  const bool has_setup = setup_out_open;
  StdinFeed stdin_feed(stdin_data, control.stdin_fd);
  if (stdin_feed.done()) pipes.stdin_write.reset();

  for (;;) {
    if (sandbox.reaped() && !out_open && !err_open && !setup_out_open && !setup_err_open) break;
    std::array<pollfd, 8> fds{};
    size_t n = 0;
    auto add = [&](int fd, short events) -> int {
      if (fd < 0) return -1;
      fds[n] = {fd, events, 0};
      return static_cast<int>(n++);
    };
    const int i_pid = sandbox.reaped() ? -1 : add(sandbox.pidfd(), POLLIN);
    const int i_out = out_open ? add(pipes.stdout_read.get(), POLLIN) : -1;
    const int i_err = err_open ? add(pipes.stderr_read.get(), POLLIN) : -1;
    const int i_sync = sync_open ? add(pipes.sync.get(), POLLIN) : -1;
    const int i_sout = setup_out_open ? add(pipes.setup_stdout_read.get(), POLLIN) : -1;
    const int i_serr = setup_err_open ? add(pipes.setup_stderr_read.get(), POLLIN) : -1;
    const pollfd in = stdin_poll_entry(stdin_feed, pipes.stdin_write);
    const int i_in = add(in.fd, in.events);
    const bool can_cancel = control.cancel_fd >= 0 && !result.cancelled && !result.timed_out;
    const int i_cancel = can_cancel ? add(control.cancel_fd, POLLIN) : -1;

    int wait_ms = -1;
    if (!sandbox.reaped() && !result.timed_out && !result.cancelled) {
      wait_ms = millis_until(deadline);
    } else if (drain_deadline) {
      wait_ms = millis_until(*drain_deadline);
    }
    const int ready = ::poll(fds.data(), n, wait_ms);
    if (ready < 0 && errno != EINTR) break;
    if (ready == 0) {
      if (drain_deadline && Clock::now() >= *drain_deadline) break;
      if (!sandbox.reaped() && !result.cancelled && Clock::now() >= deadline) {
        result.timed_out = true;
        sandbox.kill();
      }
      continue;
    }
    auto fired = [&](int i) { return i >= 0 && fds[i].revents != 0; };
    if (fired(i_sout)) {
      setup_out_open = pump(pipes.setup_stdout_read.get(), OutputStream::kStdout, sink, true);
    }
    if (fired(i_serr)) {
      setup_err_open = pump(pipes.setup_stderr_read.get(), OutputStream::kStderr, sink, true);
    }
    // Reports first: the setup's exit report is sent before the program exists, so it must be
    // handled before any of the program's output.
    if (fired(i_sync) || (has_setup && !setup_reported && (fired(i_out) || fired(i_err)))) {
      while (read_report(pipes.sync.get(), result, sync_open)) {
      }
      while (!setup_reported && result.setup_steps_reported < result.setup_reports.size()) {
        const size_t step = result.setup_steps_reported++;
        const int status = result.setup_reports[step];
        // Output the step wrote before it exited is already in its pipes: deliver it first.
        while (setup_out_open && has_input(pipes.setup_stdout_read.get())) {
          setup_out_open = pump(pipes.setup_stdout_read.get(), OutputStream::kStdout, sink, true);
        }
        while (setup_err_open && has_input(pipes.setup_stderr_read.get())) {
          setup_err_open = pump(pipes.setup_stderr_read.get(), OutputStream::kStderr, sink, true);
        }
        const bool last = step + 1 >= setup_timeouts.size();
        if (status == 0 && !last) {
          if (!result.timed_out && !result.cancelled) {
            deadline = Clock::now() + setup_timeouts[step + 1];
          }
          continue;
        }
        setup_reported = true;
        result.setup_status = status;
        result.setup_step = step;
        if (!result.timed_out && !result.cancelled) deadline = Clock::now() + timeout;
        sink.on_setup_exit(exit_code_of(status));
      }
    }
    if (result.mounted && !mounted_told) {
      mounted_told = true;
      if (hooks.on_mounted) hooks.on_mounted();
    }
    if (result.wait_status && !program_exit_told) {
      program_exit_told = true;
      if (hooks.on_program_exit) hooks.on_program_exit();
    }
    if (fired(i_out)) out_open = pump(pipes.stdout_read.get(), OutputStream::kStdout, sink);
    if (fired(i_err)) err_open = pump(pipes.stderr_read.get(), OutputStream::kStderr, sink);
    if (fired(i_in)) feed_stdin(stdin_feed, pipes.stdin_write);
    if (fired(i_cancel)) {
      result.cancelled = true;
      sandbox.kill();
    }
    if (fired(i_pid) && sandbox.try_reap()) {
      result.duration = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
      drain_deadline = Clock::now() + kDrainLimit;
      pipes.stdin_write.reset();
    }
  }
  // init's last report may still sit in the socket.
  while (sync_open && read_report(pipes.sync.get(), result, sync_open)) {
  }
  if (result.duration.count() == 0) {
    result.duration = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
  }
  return result;
}

}  // namespace isol8
