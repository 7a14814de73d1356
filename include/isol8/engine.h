#pragma once
// The public entry point of the library: an Engine runs ExecutionRequests, each in a fresh
// sandbox (Options::mode ephemeral) or all in one sandbox kept until stop() (persistent).
//
//   auto engine = isol8::Engine::create(options);
//   auto result = (*engine)->execute({.runtime = "python", .code = "print(1)"});
//   if (!result) std::cerr << result.error().message;
//
// Every method may be called from several threads. Executions of a persistent engine share one
// sandbox and are serialized (each waits for the one before it); ephemeral ones run side by side.

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "isol8/executor.h"
#include "isol8/result.h"
#include "isol8/run_control.h"
#include "isol8/types.h"

namespace isol8 {

class Backend;
class Session;
namespace audit {
class AuditLog;
}

class Engine final : public Executor {
 public:
  // Fails when the options are invalid or the chosen backend is not available.
  static Result<std::unique_ptr<Engine>> create(Options options);
  // As create(options), with the backend `backend_maker` makes instead of the one options.backend
  // names: for a program that links only some backends (the isol8 binary, only the native one).
  using BackendMaker = Result<std::unique_ptr<Backend>> (*)(const Options&);
  static Result<std::unique_ptr<Engine>> create(Options options, BackendMaker backend_maker);
  ~Engine() override;
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Runs the request and returns the buffered, masked, capped result.
  Result<ExecutionResult> execute(const ExecutionRequest& request,
                                  const RunControl& control = {}) override;

  // Runs the request and reports output as it arrives: stdout/stderr events (masked, capped),
  // then an error event on timeout, then exactly one exit event. Also returns the final result
  // (with the output text unless control.keep_streamed_output is false). A truncated stream's
  // last event is the truncation marker followed by a newline.
  Result<ExecutionResult> execute_stream(const ExecutionRequest& request,
                                         const StreamCallback& on_event,
                                         const RunControl& control = {}) override;

  // Upstream's start(): nothing to do yet for either mode (a persistent engine's sandbox starts
  // with its first execution).
  Result<void> start();
  // Removes a persistent engine's sandbox and everything it holds; the next execution starts a
  // new one. Idempotent; the destructor calls it.
  void stop() override;

  // File transfer into and out of a persistent engine's sandbox, after its first execution
  // (before it: "No active container. Call execute() first in persistent mode."). `path` is
  // absolute or relative to /sandbox and must stay inside /sandbox or /tmp; symlinks leading out
  // of them are refused. Files are written as the sandbox user with mode 0644, parents created.
  Result<void> put_file(const std::string& path, std::string_view content) override;
  Result<std::string> get_file(const std::string& path) override;

  // The persistent sandbox's id; empty when none is running.
  std::string container_id() const;

  const Options& options() const { return options_; }

 private:
  Engine(Options options, std::unique_ptr<Backend> backend);
  Result<ExecutionResult> run(const ExecutionRequest& request, const StreamCallback* on_event,
                              const RunControl& control);

  Options options_;
  std::unique_ptr<Backend> backend_;
  // The persistent sandbox, its runtime, and the lock that serializes its use.
  mutable std::mutex session_mutex_;
  std::unique_ptr<Session> session_;
  std::string session_runtime_;
  bool session_has_debs_ = false;  // a bash install in the session unpacked Debian packages
  std::unique_ptr<audit::AuditLog> audit_;  // when options.audit.enabled
};

}  // namespace isol8
