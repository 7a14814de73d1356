#include "server/execution_runner.h"
#include <utility>

#include <sys/eventfd.h>
#include <unistd.h>

#include <spdlog/spdlog.h>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "isol8/json.h"
#include "server/http_error.h"
#include "server/policy.h"
#include "server/session_engine.h"

namespace isol8::server {

namespace asio = boost::asio;

void CancelRegistry::add(int fd) {
  std::lock_guard lock(mutex_);
  fds_.insert(fd);
}

void CancelRegistry::remove(int fd) {
  std::lock_guard lock(mutex_);
  fds_.erase(fd);
}

void CancelRegistry::cancel_all() {
  std::lock_guard lock(mutex_);
  const uint64_t one = 1;
  for (int fd : fds_) [[maybe_unused]] auto n = ::write(fd, &one, sizeof one);
}

RunningExecution::RunningExecution(ServerState& state, asio::io_context& ioc)
    : state_(state), wakeup_(ioc), cancel_fd_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {
  wakeup_.expires_at(asio::steady_timer::time_point::max());
}

RunningExecution::~RunningExecution() = default;

Result<std::shared_ptr<RunningExecution>> RunningExecution::start(ServerState& state,
                                                                  Envelope envelope,
                                                                  const Principal& who, bool stream,
                                                                  UniqueFd stdin_source) {
  auto options = apply_client_options(envelope.options, state.settings);
  if (!options) return std::move(options).error();
  ISOL8_TRY(check_request_limits(envelope.request, state.settings));
  auto self = std::make_shared<RunningExecution>(state, state.ioc);
  if (!self->cancel_fd_) return errno_error("eventfd");
  self->stdin_source_ = std::move(stdin_source);
  state.cancels.add(self->cancel_fd_.get());
  const bool queued = state.executor.submit(
      [self, envelope = std::move(envelope), options = std::move(options).value(), who,
       stream]() mutable { self->run(std::move(envelope), std::move(options), who, stream); });
  if (!queued) {
    state.cancels.remove(self->cancel_fd_.get());
    state.metrics.rejected_busy();
    return http_error(503, "Server busy: too many executions queued, retry later");
  }
  return self;
}

// Worker thread: what GET /sessions on any node shows of this session.
void RunningExecution::touch_in_cluster(const std::string& session_id, bool active) {
  if (!state_.cluster) return;
  if (auto touched = state_.cluster->touch(session_id, active); !touched) {
    spdlog::warn("session {}: {}", session_id, touched.error().message);
  }
}

// Worker thread.
void RunningExecution::run(Envelope envelope, Options options, Principal who, bool stream) {
  const auto started = std::chrono::steady_clock::now();
  std::shared_ptr<Engine> engine;
  const bool in_session = envelope.session_id.has_value();
  if (in_session) {
    auto acquired = state_.sessions.acquire(*envelope.session_id, who.tenant_id, [&] {
      return make_engine(options, /*persistent=*/true);
    });
    if (!acquired) {
      finish(std::move(acquired).error());
      return;
    }
    engine = std::move(acquired).value();
    touch_in_cluster(*envelope.session_id, true);
  } else {
    auto made = make_engine(std::move(options), /*persistent=*/false);
    if (!made) {
      finish(std::move(made).error());
      return;
    }
    engine = std::shared_ptr<Engine>(std::move(made).value());
  }
  RunControl control;
  control.cancel_fd = cancel_fd_.get();
  control.stdin_fd = stdin_source_ ? stdin_source_.get() : -1;
  Result<ExecutionResult> result = make_error("not run");
  if (stream) {
    // The events are the stream's only copy of the output.
    control.keep_streamed_output = false;
    auto self = this;
    result = engine->execute_stream(
        envelope.request,
        [self](const StreamEvent& event) {
          // upstream's key order: type, data, phase.
          nlohmann::ordered_json j;
          j["type"] = to_string(event.type);
          j["data"] = event.data;
          j["phase"] = event.phase;
          self->deliver(j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
          if (event.type == StreamEvent::Type::kError) {
            asio::post(self->state_.ioc,
                       [keep = self->shared_from_this()] { keep->sent_error_event_ = true; });
          }
        },
        control);
  } else {
    result = engine->execute(envelope.request, control);
  }
  // The live stdin's writer sees its end close: nothing it still holds can reach the program.
  stdin_source_.reset();
  if (in_session) {
    state_.sessions.release(*envelope.session_id);
    touch_in_cluster(*envelope.session_id, state_.sessions.is_active(*envelope.session_id));
  }
  engine.reset();  // an ephemeral engine's teardown happens before the reply, as upstream
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  state_.metrics.execution(envelope.request.runtime, result ? to_string(result->status) : "failed",
                           seconds);
  finish(std::move(result));
}

void RunningExecution::deliver(std::string event) {
  asio::post(state_.ioc, [this, self = shared_from_this(), event = std::move(event)]() mutable {
    events_.push_back(std::move(event));
    wakeup_.cancel();
  });
}

void RunningExecution::finish(Result<ExecutionResult> result) {
  state_.cancels.remove(cancel_fd_.get());
  auto holder = std::make_shared<Result<ExecutionResult>>(std::move(result));
  asio::post(state_.ioc, [this, self = shared_from_this(), holder] {
    result_.emplace(std::move(*holder));
    done_ = true;
    wakeup_.cancel();
  });
}

asio::awaitable<std::optional<std::string>> RunningExecution::next() {
  for (;;) {
    if (!events_.empty()) {
      std::string e = std::move(events_.front());
      events_.pop_front();
      co_return e;
    }
    if (done_) co_return std::nullopt;
    boost::system::error_code ec;
    co_await wakeup_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }
}

asio::awaitable<void> RunningExecution::wait() {
  while (!done_) {
    boost::system::error_code ec;
    co_await wakeup_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }
  events_.clear();
}

void RunningExecution::reply(std::string event) {
  if (done_) return;
  events_.push_back(std::move(event));
  wakeup_.cancel();
}

void RunningExecution::cancel() {
  const uint64_t one = 1;
  [[maybe_unused]] auto n = ::write(cancel_fd_.get(), &one, sizeof one);
}

}  // namespace isol8::server
