#include "backends/native/session_exec.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstring>

#include "backends/native/setup_steps.h"
#include "namespaces/child_report.h"
#include "namespaces/session_protocol.h"

namespace isol8 {
namespace {

using Clock = std::chrono::steady_clock;

// How long init and the keeper get to end an execution after a kill command. Past it the
// session is given up (its sandbox is killed): a keeper the program managed to stop or kill
// cannot hold the caller forever.
constexpr std::chrono::milliseconds kKillGrace{3000};

// Appends bytes to the block, returning their offset.
class BlockWriter {
 public:
  BlockWriter() { data_.resize(sizeof(ExecBlock)); }
  uint64_t add_string(std::string_view s) {
    const uint64_t at = data_.size();
    data_.append(s);
    data_.push_back('\0');
    return at;
  }
  uint64_t add_bytes(std::string_view s) {
    const uint64_t at = data_.size();
    data_.append(s);
    return at;
  }
  void align() { data_.resize((data_.size() + 7) & ~size_t{7}); }
  // An array of string offsets ending with 0.
  uint64_t add_array(const std::vector<uint64_t>& offsets) {
    align();
    const uint64_t at = data_.size();
    for (uint64_t o : offsets) add_u64(o);
    add_u64(0);
    return at;
  }
  uint64_t add_u64(uint64_t v) {
    const uint64_t at = data_.size();
    data_.append(reinterpret_cast<const char*>(&v), sizeof v);
    return at;
  }
  std::string& data() { return data_; }

 private:
  std::string data_;
};

uint64_t add_strings(BlockWriter& w, const std::vector<std::string>& strings) {
  std::vector<uint64_t> offsets;
  offsets.reserve(strings.size());
  for (const auto& s : strings) offsets.push_back(w.add_string(s));
  return w.add_array(offsets);
}

bool has_input(int fd) {
  pollfd p{fd, POLLIN, 0};
  return ::poll(&p, 1, 0) > 0 && (p.revents & POLLIN) != 0;
}

// Delivers what the pipe holds now, without waiting for more; false at EOF.
// Bounded: a background process writing without pause would otherwise keep it going.
bool drain_now(UniqueFd& fd, OutputStream stream, OutputSink& sink, bool setup_phase) {
  for (int reads = 0; reads < 64 && fd && has_input(fd.get()); ++reads) {
    if (!pump(fd.get(), stream, sink, setup_phase)) return false;
  }
  return static_cast<bool>(fd);
}

int millis_until(Clock::time_point deadline) {
  const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now());
  return static_cast<int>(std::max<int64_t>(0, left.count()));
}

int exit_code_of(int wait_status) {
  if (WIFEXITED(wait_status)) return WEXITSTATUS(wait_status);
  if (WIFSIGNALED(wait_status)) return 128 + WTERMSIG(wait_status);
  return 1;
}

}  // namespace

Result<UniqueFd> write_exec_block(const RunSpec& spec, const std::vector<std::string>& extra_env) {
  BlockWriter w;
  ExecBlock header;
  std::vector<std::string> env = spec.env;
  env.insert(env.end(), extra_env.begin(), extra_env.end());
  header.argv = add_strings(w, spec.argv);
  header.envp = add_strings(w, env);
  std::vector<ExecBlockStep> steps;
  for (const SetupStepPlan& step : setup_step_plans(spec, env)) {
    steps.push_back(ExecBlockStep{add_strings(w, step.argv), add_strings(w, step.env)});
  }
  if (!steps.empty()) {
    w.align();
    header.setup_steps = w.data().size();
    header.setup_step_count = steps.size();
    w.data().append(reinterpret_cast<const char*>(steps.data()),
                    steps.size() * sizeof(ExecBlockStep));
  }
  header.workdir = w.add_string(spec.workdir);
  // The request's files first, then the code file, as a one-shot run writes them.
  std::vector<ExecBlockFile> files;
  auto add_file = [&](const CodeFile& f) {
    ExecBlockFile entry;
    entry.path = w.add_string(f.path);
    entry.data = w.add_bytes(f.content);
    entry.size = f.content.size();
    entry.mode = f.mode & 0777u;
    files.push_back(entry);
  };
  for (const CodeFile& f : spec.files) add_file(f);
  if (spec.code_file) add_file(*spec.code_file);
  if (!files.empty()) {
    w.align();
    header.files = w.data().size();
    header.file_count = files.size();
    w.data().append(reinterpret_cast<const char*>(files.data()),
                    files.size() * sizeof(ExecBlockFile));
  }
  header.size = w.data().size();
  std::memcpy(w.data().data(), &header, sizeof header);

  UniqueFd fd(::memfd_create("isol8-exec", MFD_CLOEXEC));
  if (!fd) return errno_error("memfd_create");
  const std::string& bytes = w.data();
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd.get(), bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return errno_error("writing the execution's layout");
    done += static_cast<size_t>(n);
  }
  return fd;
}

bool send_kill_command(int control_fd) {
  SessionCommand cmd;
  cmd.kind = SessionCommand::kKill;
  return ::send(control_fd, &cmd, offsetof(SessionCommand, path), MSG_NOSIGNAL) > 0;
}

ExecSupervision supervise_execution(int control_fd, int init_pidfd, ExecPipes& pipes,
                                    std::string_view stdin_data,
                                    const std::vector<std::chrono::milliseconds>& setup_timeouts,
                                    std::chrono::milliseconds timeout, OutputSink& sink,
                                    const RunControl& control) {
  ExecSupervision s;
  SupervisionResult& result = s.result;
  SigpipeGuard sigpipe_guard;
  const auto start = Clock::now();
  // Each setup step has its own limit, and the code phase's starts when the setup phase ends,
  // as in a one-shot run.
  auto deadline = start + (setup_timeouts.empty() ? timeout : setup_timeouts.front());
  std::optional<Clock::time_point> kill_deadline;
  bool out_open = true, err_open = true;
  bool setup_out_open = static_cast<bool>(pipes.setup_stdout_read);
  bool setup_err_open = static_cast<bool>(pipes.setup_stderr_read);
  StdinFeed stdin_feed(stdin_data, control.stdin_fd);
  if (stdin_feed.done()) pipes.stdin_write.reset();

  auto request_kill = [&] {
    if (kill_deadline) return;
    if (!send_kill_command(control_fd)) s.lost = "the sandbox's init is gone";
    kill_deadline = Clock::now() + kKillGrace;
  };
  auto read_reports = [&] {
    for (;;) {
      ChildMessage msg;
      const ssize_t n = ::recv(control_fd, &msg, sizeof msg, MSG_DONTWAIT);
      if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
        s.lost = "the sandbox's init is gone";
        return;
      }
      if (n != static_cast<ssize_t>(sizeof msg)) return;
      if (msg.kind == ChildMessage::kFailure && !result.failure) result.failure = msg;
      if (msg.kind == ChildMessage::kExited) {
        result.wait_status = msg.wait_status;
        result.duration =
            std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
      }
      if (msg.kind == ChildMessage::kSetupExited && kill_deadline) {
        // The kill ended the setup phase: a timeout or cancel, not a failed script (as in a
        // one-shot run, where the setup's status is never reported then).
        pipes.setup_stdout_read.reset();
        pipes.setup_stderr_read.reset();
        setup_out_open = setup_err_open = false;
      } else if (msg.kind == ChildMessage::kSetupExited && !result.setup_status) {
        result.setup_steps_reported = static_cast<size_t>(msg.step) + 1;
        const bool last = result.setup_steps_reported >= setup_timeouts.size();
        if (msg.wait_status == 0 && !last) {
          // The next step's limit starts now; its output follows in the same pipes.
          deadline = Clock::now() + setup_timeouts[result.setup_steps_reported];
          continue;
        }
        result.setup_status = msg.wait_status;
        result.setup_step = msg.step;
        if (!result.timed_out && !result.cancelled) deadline = Clock::now() + timeout;
        setup_out_open = drain_now(pipes.setup_stdout_read, OutputStream::kStdout, sink, true);
        setup_err_open = drain_now(pipes.setup_stderr_read, OutputStream::kStderr, sink, true);
        // A process the setup script left running may hold its pipes: they are done with.
        pipes.setup_stdout_read.reset();
        pipes.setup_stderr_read.reset();
        setup_out_open = setup_err_open = false;
        sink.on_setup_exit(exit_code_of(msg.wait_status));
      }
      if (msg.kind == ChildMessage::kExecutionEnded) {
        s.ended = true;
        s.max_rss_kb = msg.max_rss_kb;
        return;
      }
    }
  };

  while (!s.ended && s.lost.empty()) {
    std::array<pollfd, 8> fds{};
    size_t n = 0;
    auto add = [&](int fd, short events) -> int {
      if (fd < 0) return -1;
      fds[n] = {fd, events, 0};
      return static_cast<int>(n++);
    };
    const int i_ctl = add(control_fd, POLLIN);
    const int i_pid = add(init_pidfd, POLLIN);
    const int i_out = out_open ? add(pipes.stdout_read.get(), POLLIN) : -1;
    const int i_err = err_open ? add(pipes.stderr_read.get(), POLLIN) : -1;
    const int i_sout = setup_out_open ? add(pipes.setup_stdout_read.get(), POLLIN) : -1;
    const int i_serr = setup_err_open ? add(pipes.setup_stderr_read.get(), POLLIN) : -1;
    const pollfd in = stdin_poll_entry(stdin_feed, pipes.stdin_write);
    const int i_in = add(in.fd, in.events);
    const bool can_cancel = control.cancel_fd >= 0 && !kill_deadline;
    const int i_cancel = can_cancel ? add(control.cancel_fd, POLLIN) : -1;
    const int wait_ms = kill_deadline ? millis_until(*kill_deadline) : millis_until(deadline);
    const int ready = ::poll(fds.data(), n, wait_ms);
    if (ready < 0 && errno != EINTR) {
      s.lost = "poll failed";
      break;
    }
    if (ready == 0) {
      if (kill_deadline && Clock::now() >= *kill_deadline) {
        s.lost = "the sandbox did not end the execution within 3 s of the kill";
        break;
      }
      if (!kill_deadline && Clock::now() >= deadline) {
        result.timed_out = true;
        request_kill();
      }
      continue;
    }
    auto fired = [&](int i) { return i >= 0 && fds[i].revents != 0; };
    // Reports first: the setup's exit report is sent before the program exists.
    if (fired(i_ctl)) read_reports();
    if (fired(i_sout)) {
      setup_out_open = pump(pipes.setup_stdout_read.get(), OutputStream::kStdout, sink, true);
    }
    if (fired(i_serr)) {
      setup_err_open = pump(pipes.setup_stderr_read.get(), OutputStream::kStderr, sink, true);
    }
    if (fired(i_out)) out_open = pump(pipes.stdout_read.get(), OutputStream::kStdout, sink);
    if (fired(i_err)) err_open = pump(pipes.stderr_read.get(), OutputStream::kStderr, sink);
    if (fired(i_in)) feed_stdin(stdin_feed, pipes.stdin_write);
    if (fired(i_cancel)) {
      result.cancelled = true;
      request_kill();
    }
    if (fired(i_pid) && !s.ended) s.lost = "the sandbox's init is gone";
  }
  // What the execution wrote is in the pipes by now; a background process may write more later,
  // into pipes whose reader is about to go.
  if (out_open) drain_now(pipes.stdout_read, OutputStream::kStdout, sink, false);
  if (err_open) drain_now(pipes.stderr_read, OutputStream::kStderr, sink, false);
  pipes.stdin_write.reset();
  if (result.duration.count() == 0) {
    result.duration = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
  }
  return s;
}

}  // namespace isol8
