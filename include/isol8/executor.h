#pragma once
// What runs executions for a caller, wherever it runs them: the local Engine, or a RemoteEngine
// talking to an `isol8 serve` (or any server speaking upstream's wire format). The CLI drives both
// through this, so that a local and a remote run cannot drift apart.

#include <functional>
#include <string>
#include <string_view>

#include "isol8/result.h"
#include "isol8/run_control.h"
#include "isol8/types.h"

namespace isol8 {

using StreamCallback = std::function<void(const StreamEvent&)>;

class Executor {
 public:
  virtual ~Executor() = default;
  // The buffered, masked, capped result.
  virtual Result<ExecutionResult> execute(const ExecutionRequest& request,
                                          const RunControl& control = {}) = 0;
  // Output events as they arrive, then the result (see Engine::execute_stream).
  virtual Result<ExecutionResult> execute_stream(const ExecutionRequest& request,
                                                 const StreamCallback& on_event,
                                                 const RunControl& control = {}) = 0;
  // File transfer into and out of a persistent sandbox (a local persistent engine, a server
  // session).
  virtual Result<void> put_file(const std::string& path, std::string_view content) = 0;
  virtual Result<std::string> get_file(const std::string& path) = 0;
  // Ends what the executor holds (a persistent sandbox, a server session it created).
  virtual void stop() = 0;
};

}  // namespace isol8
