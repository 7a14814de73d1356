#pragma once
// Runs one execution on the worker pool and brings its events and result back to the network
// thread: the caller's coroutine awaits `next()` for each event, then the outcome. A queue that is
// full refuses at once (503). Cancelling (client gone, WebSocket signal, shutdown) kills the
// sandbox through the run's cancel fd.

#include <deque>
#include <memory>
#include <optional>
#include <string>

#include <utility>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>

#include "common/unique_fd.h"
#include "isol8/result.h"
#include "isol8/types.h"
#include "server/auth.h"
#include "server/envelope.h"
#include "server/server_state.h"

namespace isol8::server {

class RunningExecution : public std::enable_shared_from_this<RunningExecution> {
 public:
  // Starts the execution (streaming when `stream`): policy, session, engine, run. Errors before
  // the run starts (policy 400/403, queue full 503) come back at once. `stdin_source`: the live
  // stdin (RunControl::stdin_fd), held until the run returns; none by default.
  static Result<std::shared_ptr<RunningExecution>> start(ServerState& state, Envelope envelope,
                                                         const Principal& who, bool stream,
                                                         UniqueFd stdin_source = {});

  // The next stream event as JSON text, or nullopt once the run is over (then result()).
  boost::asio::awaitable<std::optional<std::string>> next();
  // The outcome (only after next() returned nullopt, or wait()).
  boost::asio::awaitable<void> wait();
  Result<ExecutionResult>& result() { return *result_; }
  // True when the engine emitted an error event itself (setup failure, backend error), so the
  // caller must not add one for the returned error.
  bool sent_error_event() const { return sent_error_event_; }

  // Kills the sandbox (idempotent).
  void cancel();
  // A frame of the server's own (an error about a client message) for the stream's reader, in
  // order with the run's events. Network thread; dropped once the run is over.
  void reply(std::string event);

  RunningExecution(ServerState& state, boost::asio::io_context& ioc);
  ~RunningExecution();

 private:
  void run(Envelope envelope, Options options, Principal who, bool stream);
  void touch_in_cluster(const std::string& session_id, bool active);
  void deliver(std::string event);              // worker thread
  void finish(Result<ExecutionResult> result);  // worker thread

  ServerState& state_;
  boost::asio::steady_timer wakeup_;  // cancelled to wake the awaiting coroutine
  std::deque<std::string> events_;    // network thread
  std::optional<Result<ExecutionResult>> result_;
  bool done_ = false;
  bool sent_error_event_ = false;
  UniqueFd cancel_fd_;
  UniqueFd stdin_source_;  // worker thread, during the run
};

}  // namespace isol8::server
