#include "cli/build_session.h"
#include "common/iso_time.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <algorithm>
#include <iostream>

#include <fmt/format.h>

namespace isol8::cli {

TerminationSignalFd::TerminationSignalFd() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  ::sigprocmask(SIG_BLOCK, &set, nullptr);
  fd_.reset(::signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK));
}

int TerminationSignalFd::received() const {
  signalfd_siginfo info{};
  if (!fd_ || ::read(fd_.get(), &info, sizeof info) != sizeof info) return 0;
  return static_cast<int>(info.ssi_signo);
}

std::filesystem::path configured_store_path(const LoadedConfig& config) {
  std::string configured;
  auto opts = options_from_config(config.json);
  if (opts) configured = opts->rootfs_store;
  return rootfs::resolve_store_path(configured);
}

std::vector<std::string> configured_dependencies(const LoadedConfig& config,
                                                 const std::string& runtime) {
  std::vector<std::string> out;
  const auto deps = config.json.find("dependencies");
  if (deps == config.json.end() || !deps->is_object() || !deps->contains(runtime)) return out;
  for (const auto& p : (*deps)[runtime]) out.push_back(p.get<std::string>());
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

Result<std::unique_ptr<BuildSession>> BuildSession::open(const LoadedConfig& config,
                                                         const std::string& what) {
  auto store = rootfs::RootfsStore::open(configured_store_path(config), /*create=*/true);
  if (!store) return std::move(store).error();
  std::unique_ptr<BuildSession> s(new BuildSession(std::move(store).value()));
  auto lock = s->store_.lock_for_writing();
  if (!lock) return std::move(lock).error();
  s->lock_ = std::move(lock).value();
  ISOL8_TRY(s->store_.reclaim());
  std::string stamp = iso_timestamp_now();
  std::erase_if(stamp, [](char c) { return c == '-' || c == ':'; });
  s->log_path_ =
      (s->store_.log_dir() / fmt::format("{}-{}-{}.log", what, stamp, ::getpid())).string();
  s->log_.reset(::open(s->log_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  if (!s->log_) return errno_error("cannot create the build log " + s->log_path_);
  s->tty_ = ::isatty(STDERR_FILENO) == 1;
  s->ctx_.store = &s->store_;
  s->ctx_.log_fd = s->log_.get();
  s->ctx_.log_path = s->log_path_;
  s->ctx_.cancel_fd = s->signals_.fd();
  BuildSession* self = s.get();
  s->ctx_.on_step = [self](std::string_view step) {
    self->step_ = std::string(step);
    self->step_start_ = std::chrono::steady_clock::now();
    if (!self->tty_) {
      std::cerr << "  ... " << step << std::endl;
      return;
    }
    self->draw();
  };
  s->ctx_.tick = [self] {
    if (self->tty_) self->draw();
  };
  return s;
}

void BuildSession::draw() {
  const auto secs = std::chrono::duration_cast<std::chrono::seconds>(
                        std::chrono::steady_clock::now() - step_start_)
                        .count();
  std::cerr << fmt::format("\r\033[K  ... {} ({}s)", step_, secs) << std::flush;
  line_shown_ = true;
}

void BuildSession::clear_progress() {
  if (tty_ && line_shown_) std::cerr << "\r\033[K" << std::flush;
  line_shown_ = false;
}

}  // namespace isol8::cli
