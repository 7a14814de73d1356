#pragma once
// The public entry point of the library: an Engine runs ExecutionRequests in fresh sandboxes.
//
//   isol8::Engine engine(options);
//   auto result = engine.execute({.runtime = "python", .code = "print(1)"});
//   if (!result) std::cerr << result.error().message;

#include <functional>
#include <memory>

#include "isol8/result.h"
#include "isol8/run_control.h"
#include "isol8/types.h"

namespace isol8 {

class Backend;
namespace audit {
class AuditLog;
}

using StreamCallback = std::function<void(const StreamEvent&)>;

class Engine {
 public:
  // Fails when the options are invalid or the chosen backend is not available.
  static Result<std::unique_ptr<Engine>> create(Options options);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Runs the request and returns the buffered, masked, capped result.
  Result<ExecutionResult> execute(const ExecutionRequest& request, const RunControl& control = {});

  // Runs the request and reports output as it arrives: stdout/stderr events (masked, capped),
  // then an error event on timeout, then exactly one exit event. Also returns the final result
  // (with the output text unless control.keep_streamed_output is false). A truncated stream's
  // last event is the truncation marker followed by a newline.
  Result<ExecutionResult> execute_stream(const ExecutionRequest& request,
                                         const StreamCallback& on_event,
                                         const RunControl& control = {});

  const Options& options() const { return options_; }

 private:
  Engine(Options options, std::unique_ptr<Backend> backend);
  Result<ExecutionResult> run(const ExecutionRequest& request, const StreamCallback* on_event,
                              const RunControl& control);

  Options options_;
  std::unique_ptr<Backend> backend_;
  std::unique_ptr<audit::AuditLog> audit_;  // when options.audit.enabled
};

}  // namespace isol8
