#include "backends/native/native_session.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <cstring>

#include "backends/native/native_backend.h"
#include "backends/native/sandbox_spawn.h"
#include "backends/native/session_exec.h"
#include "backends/native/setup_steps.h"
#include "common/sandbox_user.h"
#include "common/trace.h"
#include "namespaces/child_report.h"
#include "namespaces/session_protocol.h"

namespace isol8 {
namespace {

// How long a sandbox may take to start, and init to answer a file transfer's open.
constexpr int kStartLimitMs = 30000;
constexpr int kOpenLimitMs = 10000;

// Waits for init's next report (with a descriptor, for kOpened); an error when init is gone or
// silent past `limit_ms`.
Result<ChildMessage> receive_report(int control_fd, int pidfd, int limit_ms, UniqueFd* fd_out) {
  pollfd fds[2] = {{control_fd, POLLIN, 0}, {pidfd, POLLIN, 0}};
  for (;;) {
    const int ready = ::poll(fds, 2, limit_ms);
    if (ready < 0 && errno == EINTR) continue;
    if (ready < 0) return errno_error("poll");
    if (ready == 0) return make_error("the sandbox's init did not answer in time");
    if (fds[0].revents == 0) return make_error("the sandbox's init is gone");
    break;
  }
  ChildMessage msg;
  struct iovec iov = {&msg, sizeof msg};
  alignas(struct cmsghdr) char control[CMSG_SPACE(sizeof(int))];
  struct msghdr mh {};
  mh.msg_iov = &iov;
  mh.msg_iovlen = 1;
  mh.msg_control = control;
  mh.msg_controllen = sizeof control;
  const ssize_t n = ::recvmsg(control_fd, &mh, MSG_CMSG_CLOEXEC);
  if (n < 0) return errno_error("reading the sandbox's report");
  for (struct cmsghdr* c = CMSG_FIRSTHDR(&mh); c != nullptr; c = CMSG_NXTHDR(&mh, c)) {
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
      int fd = -1;
      std::memcpy(&fd, CMSG_DATA(c), sizeof fd);
      UniqueFd owned(fd);
      if (fd_out != nullptr) *fd_out = std::move(owned);
    }
  }
  if (n != static_cast<ssize_t>(sizeof msg)) return make_error("the sandbox's init is gone");
  return msg;
}

Result<void> send_exec(int control_fd, const std::vector<int>& fds) {
  SessionCommand cmd;
  cmd.kind = SessionCommand::kExec;
  struct iovec iov = {&cmd, offsetof(SessionCommand, path)};
  std::vector<char> control(CMSG_SPACE(sizeof(int) * fds.size()));
  struct msghdr mh {};
  mh.msg_iov = &iov;
  mh.msg_iovlen = 1;
  mh.msg_control = control.data();
  mh.msg_controllen = control.size();
  struct cmsghdr* c = CMSG_FIRSTHDR(&mh);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
  std::memcpy(CMSG_DATA(c), fds.data(), sizeof(int) * fds.size());
  if (::sendmsg(control_fd, &mh, MSG_NOSIGNAL) < 0) {
    return errno_error("sending the execution to the sandbox");
  }
  return ok();
}

// Why init refused a transfer's file, in words that name the rule.
std::string refusal_reason(int err) {
  switch (err) {
    case EXDEV:
      return "the path leaves /sandbox or /tmp (through \"..\" or an absolute symbolic link); "
             "refused";
    case ELOOP:
      return "the path is a symbolic link or goes through a magic link (such as /proc/*/root); "
             "refused";
    case EISDIR:
      return "it is a directory";
    case kNotRegularFile:
      return "it is not a regular file (a FIFO, socket or device); refused";
    case ENOENT:
      return "No such file or directory";
    default:
      return std::strerror(err);
  }
}

}  // namespace

Result<std::unique_ptr<Session>> NativeSession::open(NativeBackend& backend, const RunSpec& spec) {
  std::unique_ptr<NativeSession> session(new NativeSession(backend));
  trace::mark("native session: open");
  // Step 1b: the filtered network's host side, kept for the session's life.
  SpawnExtras extras;
  if (spec.network == NetworkMode::kFiltered) {
    auto started = backend.filtered_.start(spec, extras);
    if (!started) return std::move(started).error();
    session->filtered_ = std::move(started).value();
  }
  session->extra_env_ = extras.env;
  session->pids_limit_ = spec.limits.pids;
  session->sandbox_size_ = spec.sandbox_size_bytes;
  session->tmp_size_ = spec.tmp_size_bytes;

  // Step 2: the sandbox's plan; init writes no file and runs no program (each execution brings
  // its own), it enters the command loop instead.
  auto plan = SpawnPlan::create(spec, backend.settings_,
                                backend.seccomp_ ? &*backend.seccomp_ : nullptr, extras);
  if (!plan) return std::move(plan).error().context("while preparing the sandbox");
  ChildSpec& child = (*plan)->child();
  child.session = true;
  child.files = nullptr;
  child.file_count = 0;
  child.code_path = nullptr;
  child.setup_steps = nullptr;
  child.setup_step_count = 0;

  auto pipes = RunPipes::create(false);
  if (!pipes) return std::move(pipes).error();
  pipes->give_child_ends(child);

  const std::string name = backend.next_sandbox_name();
  auto made = backend.make_cgroup(name, spec.limits, /*one_run=*/false);
  if (!made) return std::move(made).error();
  session->cgroup_ = std::move(made).value();
  backend.warn_unenforced_limits(session->cgroup_.get());
  session->id_ = "isol8-native-" + name;

  auto entry = CgroupEntry::prepare(session->cgroup_.get(), **plan);
  if (!entry) return std::move(entry).error();
  auto sandbox = clone_sandbox(**plan, *pipes, entry->clone_into_fd(),
                               session->filtered_ ? session->filtered_->netns_fd() : -1);
  if (!sandbox) return std::move(sandbox).error();
  session->sandbox_.emplace(std::move(sandbox).value());
  SandboxProcess& process = *session->sandbox_;
  ISOL8_TRY(release_sandbox(process, session->cgroup_.get(), entry->placed(), **plan));
  // Init's stdio is /dev/null from here; each execution brings its own pipes.
  process.pipes().stdin_write.reset();
  process.pipes().stdout_read.reset();
  process.pipes().stderr_read.reset();

  auto ready = receive_report(process.pipes().sync.get(), process.pidfd(), kStartLimitMs, nullptr);
  if (!ready) return std::move(ready).error().context("while starting the session's sandbox");
  if (ready->kind == ChildMessage::kFailure) return make_error(describe_failure(*ready, spec));
  if (ready->kind != ChildMessage::kReady) {
    return make_error("the session's sandbox sent an unexpected report while starting");
  }
  trace::mark("native session: ready");
  spdlog::debug("native: session {} ready (init pid {})", session->id_, process.pid());
  return std::unique_ptr<Session>(std::move(session));
}

NativeSession::~NativeSession() {
  if (kept_) return;
  // Killing init ends the pid namespace; then the cgroup (which kills anything left) and the
  // network go, as after a one-shot run.
  sandbox_.reset();
  if (cgroup_) {
    if (auto destroyed = cgroup_->destroy(); !destroyed) {
      spdlog::warn("session {}: cannot remove its cgroup: {}", id_, destroyed.error().message);
    }
    cgroup_.reset();
  }
  if (filtered_) backend_.filtered_.retire(std::move(filtered_));
  spdlog::debug("native: session {} removed", id_);
}

Result<std::string> NativeSession::keep(std::chrono::seconds lifetime) {
  std::lock_guard lock(mutex_);
  ISOL8_TRY(check_usable());
  if (filtered_) {
    return make_error(
        "a native sandbox with the filtered network cannot be kept: its proxy ends with the run");
  }
  if (lifetime.count() <= 0 || lifetime.count() > UINT32_MAX) {
    return make_error(fmt::format("a kept sandbox's lifetime must be 1 to {} seconds, not {}",
                                  UINT32_MAX, lifetime.count()));
  }
  SandboxProcess& process = *sandbox_;
  const int control_fd = process.pipes().sync.get();
  SessionCommand cmd;
  cmd.kind = SessionCommand::kDetach;
  cmd.seconds = static_cast<uint32_t>(lifetime.count());
  if (::send(control_fd, &cmd, offsetof(SessionCommand, path), MSG_NOSIGNAL) < 0) {
    give_up("the sandbox's init is gone");
    return make_error("cannot keep the sandbox: its init is gone");
  }
  auto reply = receive_report(control_fd, process.pidfd(), kOpenLimitMs, nullptr);
  if (!reply) return std::move(reply).error().context("cannot keep the sandbox");
  if (reply->kind != ChildMessage::kDetached) {
    give_up("the sandbox's init sent an unexpected report");
    return make_error("cannot keep the sandbox: its init sent an unexpected report");
  }
  if (reply->error != 0) {
    return make_error(std::string("cannot keep the sandbox: its init cannot time its lifetime: ") +
                      std::strerror(reply->error));
  }
  // From here init outlives us; its cgroup becomes its own (named after it), so that no
  // runner's reclaim removes it while it lives and `isol8 cleanup` can find it.
  const pid_t init = process.pid();
  const bool findable = cgroup_ && !cgroup_->directories().empty();
  if (cgroup_) {
    if (auto handed = cgroup_->hand_over(init); !handed) {
      return std::move(handed).error().context("cannot keep the sandbox's cgroup");
    }
  }
  process.release();
  kept_ = true;
  spdlog::debug("native: session {} kept (init pid {}, {} s)", id_, init, lifetime.count());
  const std::string remove = findable ? fmt::format("isol8 cleanup, or kill {}", init)
                                      : fmt::format(
                                            "kill {} (no cgroup: isol8 cleanup cannot "
                                            "find it)",
                                            init);
  return fmt::format(
      "native sandbox {}, init pid {}. Open a shell (as root): nsenter --target {} --all "
      "--setuid {} --setgid {} /bin/bash. Remove it: {}. It ends by itself in {} s.",
      id_, init, init, kSandboxUid, kSandboxGid, remove, lifetime.count());
}

Result<void> NativeSession::check_usable() const {
  if (!lost_.empty()) {
    return make_error("the session's sandbox can no longer be used (" + lost_ +
                      "); stop the session and start a new one");
  }
  return ok();
}

void NativeSession::give_up(const std::string& why) {
  lost_ = why;
  spdlog::warn("session {}: {}; its sandbox is killed", id_, why);
  if (sandbox_) sandbox_->kill();
}

void NativeSession::fill_usage(RunOutcome& outcome, int64_t max_rss_kb) {
  outcome.usage.peak_memory_bytes = static_cast<uint64_t>(std::max<int64_t>(0, max_rss_kb)) * 1024;
  outcome.limits.not_enforced = NativeBackend::unenforced_limits(cgroup_.get());
  if (cgroup_) outcome.limits.enforced = cgroup_->enforced();
}

Result<RunOutcome> NativeSession::run(const RunSpec& spec, OutputSink& sink,
                                      const RunControl& control) {
  std::lock_guard lock(mutex_);
  ISOL8_TRY(check_usable());
  auto block = write_exec_block(spec, extra_env_);
  if (!block) return std::move(block).error();

  // The execution's pipes: the runner's ends non-blocking (output is drained, never waited for
  // to EOF), the sandbox's ends passed to init.
  auto in = make_pipe();
  auto out = make_pipe();
  auto err = make_pipe();
  if (!in) return std::move(in).error();
  if (!out) return std::move(out).error();
  if (!err) return std::move(err).error();
  ExecPipes pipes;
  pipes.stdin_write = std::move(in->write);
  pipes.stdout_read = std::move(out->read);
  pipes.stderr_read = std::move(err->read);
  ::fcntl(pipes.stdin_write.get(), F_SETFL, O_NONBLOCK);
  ::fcntl(pipes.stdout_read.get(), F_SETFL, O_NONBLOCK);
  ::fcntl(pipes.stderr_read.get(), F_SETFL, O_NONBLOCK);
  ::fcntl(pipes.stdout_read.get(), F_SETPIPE_SZ, 1 << 20);
  std::vector<int> passed = {block->get(), in->read.get(), out->write.get(), err->write.get()};
  std::optional<PipePair> setup_out, setup_err;
  if (has_setup_phase(spec)) {
    auto o = make_pipe();
    auto e = make_pipe();
    if (!o) return std::move(o).error();
    if (!e) return std::move(e).error();
    setup_out = std::move(o).value();
    setup_err = std::move(e).value();
    pipes.setup_stdout_read = std::move(setup_out->read);
    pipes.setup_stderr_read = std::move(setup_err->read);
    ::fcntl(pipes.setup_stdout_read.get(), F_SETFL, O_NONBLOCK);
    ::fcntl(pipes.setup_stderr_read.get(), F_SETFL, O_NONBLOCK);
    passed.push_back(setup_out->write.get());
    passed.push_back(setup_err->write.get());
  }

  CgroupUsage before;
  if (cgroup_) {
    if (auto u = cgroup_->usage(); u) before = *u;
  }
  SandboxProcess& process = *sandbox_;
  const int control_fd = process.pipes().sync.get();
  if (auto sent = send_exec(control_fd, passed); !sent) {
    give_up(sent.error().message);
    return std::move(sent).error();
  }
  // The sandbox holds its ends now; ours go, so that EOF and EPIPE mean what they should.
  block->reset();
  in->read.reset();
  out->write.reset();
  err->write.reset();
  if (setup_out) {
    setup_out->write.reset();
    setup_err->write.reset();
  }

  ExecSupervision supervised =
      supervise_execution(control_fd, process.pidfd(), pipes, spec.stdin_data,
                          setup_step_timeouts(spec), spec.timeout, sink, control);
  if (!supervised.lost.empty()) {
    give_up(supervised.lost);
    return make_error("the session's sandbox ended: " + supervised.lost);
  }
  const SupervisionResult& result = supervised.result;
  if (result.failure) {
    const auto& failure = *result.failure;
    if (static_cast<ChildStep>(failure.step) == ChildStep::kFork && failure.error == EAGAIN) {
      return make_error(fmt::format(
          "cannot start the execution: the session's process limit ({} processes) is reached, "
          "held by processes still running in the session; stop the session to free it",
          pids_limit_));
    }
    return make_error(describe_failure(failure, spec));
  }

  RunOutcome outcome;
  if (filtered_ && spec.log_network) outcome.network_logs = filtered_->take_logs();
  fill_usage(outcome, supervised.max_rss_kb);
  if (cgroup_) {
    if (auto after = cgroup_->usage(); after) {
      outcome.usage.cpu_user_ms =
          static_cast<int64_t>((after->cpu_user_usec - before.cpu_user_usec) / 1000);
      outcome.usage.cpu_system_ms =
          static_cast<int64_t>((after->cpu_system_usec - before.cpu_system_usec) / 1000);
      outcome.oom_killed =
          after->oom_kills > before.oom_kills || (after->oom_killed && !before.oom_killed);
      outcome.pids_limit_hit = after->pids_max_hits > before.pids_max_hits;
    }
  }
  if (!result.wait_status && !result.timed_out && !result.cancelled && !outcome.oom_killed &&
      !(result.setup_status && *result.setup_status != 0)) {
    return make_error(
        "the execution's keeper inside the sandbox ended before reporting the program's exit "
        "status (was it killed by the program?)");
  }
  ISOL8_TRY(record_ending(outcome, result, spec));
  return outcome;
}

Result<UniqueFd> NativeSession::open_file(const std::string& path, bool write, uint32_t mode) {
  ISOL8_TRY(check_usable());
  if (path.size() >= SessionCommand::kMaxPath || path.find('\0') != std::string::npos) {
    return make_error("the path is too long or contains a NUL byte");
  }
  SessionCommand cmd;
  cmd.kind = SessionCommand::kOpen;
  cmd.flags = write ? SessionCommand::kWrite : SessionCommand::kRead;
  cmd.mode = mode & 0777u;
  cmd.path_size = static_cast<uint32_t>(path.size());
  std::memcpy(cmd.path, path.data(), path.size());
  const int control_fd = sandbox_->pipes().sync.get();
  if (::send(control_fd, &cmd, offsetof(SessionCommand, path) + path.size(), MSG_NOSIGNAL) < 0) {
    give_up("the sandbox's init is gone");
    return make_error("the session's sandbox is gone");
  }
  UniqueFd fd;
  auto reply = receive_report(control_fd, sandbox_->pidfd(), kOpenLimitMs, &fd);
  if (!reply) {
    give_up(reply.error().message);
    return std::move(reply).error();
  }
  if (reply->kind != ChildMessage::kOpened) {
    give_up("the sandbox's init sent an unexpected report");
    return make_error("the session's sandbox sent an unexpected report");
  }
  if (reply->error != 0) return make_error(refusal_reason(reply->error));
  struct stat st;
  if (!fd || ::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) {
    return make_error(refusal_reason(kNotRegularFile));
  }
  // Plain blocking reads and writes from here (O_NONBLOCK kept the open from waiting on a FIFO).
  ::fcntl(fd.get(), F_SETFL, 0);
  return fd;
}

Result<void> NativeSession::put_file(const std::string& path, std::string_view content,
                                     uint32_t mode) {
  std::lock_guard lock(mutex_);
  auto fd = open_file(path, /*write=*/true, mode);
  if (!fd) return std::move(fd).error().context("Failed to write file " + path + " in the sandbox");
  size_t done = 0;
  while (done < content.size()) {
    const ssize_t n = ::write(fd->get(), content.data() + done, content.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == ENOSPC) {
      const uint64_t size = path.starts_with("/tmp/") ? tmp_size_ : sandbox_size_;
      return make_error(fmt::format(
          "Failed to write file {} in the sandbox: no space left ({} is a {} byte tmpfs)", path,
          path.starts_with("/tmp/") ? "/tmp" : "/sandbox", size));
    }
    if (n <= 0) {
      return make_error(
          fmt::format("Failed to write file {} in the sandbox: {}", path, std::strerror(errno)));
    }
    done += static_cast<size_t>(n);
  }
  return ok();
}

Result<std::string> NativeSession::get_file(const std::string& path, uint64_t max_bytes) {
  std::lock_guard lock(mutex_);
  auto fd = open_file(path, /*write=*/false, 0);
  if (!fd) return std::move(fd).error().context("Failed to read file " + path + " in the sandbox");
  struct stat st;
  if (::fstat(fd->get(), &st) != 0) return errno_error("fstat");
  const auto too_large = [&] {
    return make_error(fmt::format(
        "Failed to read file {} in the sandbox: it is larger than the limit of {} bytes", path,
        max_bytes));
  };
  if (static_cast<uint64_t>(st.st_size) > max_bytes) return too_large();
  std::string content;
  content.reserve(static_cast<size_t>(st.st_size));
  char buf[65536];
  for (;;) {
    const ssize_t n = ::read(fd->get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      return make_error(
          fmt::format("Failed to read file {} in the sandbox: {}", path, std::strerror(errno)));
    }
    if (n == 0) break;
    content.append(buf, static_cast<size_t>(n));
    if (content.size() > max_bytes) return too_large();  // it grew while being read
  }
  return content;
}

}  // namespace isol8
