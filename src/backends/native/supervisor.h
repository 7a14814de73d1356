#pragma once
// Step 12: watch a running sandbox until it is gone: feed stdin, pump stdout/stderr to the sink,
// read the child's reports, enforce the deadline and honour cancellation.

#include <chrono>
#include <optional>
#include <string_view>

#include "backends/backend.h"
#include "backends/native/sandbox_process.h"
#include "namespaces/child_report.h"

namespace isol8 {

struct SupervisionResult {
  std::optional<int> wait_status;       // the program's, as reported by init
  std::optional<int> setup_status;      // the setup phase's, when there was one
  std::optional<ChildMessage> failure;  // a setup step that failed in the child
  bool timed_out = false;
  bool cancelled = false;
  std::chrono::milliseconds duration{0};
};

SupervisionResult supervise(SandboxProcess& sandbox, std::string_view stdin_data,
                            std::chrono::milliseconds timeout, OutputSink& sink,
                            const RunControl& control);

}  // namespace isol8
