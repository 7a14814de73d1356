#pragma once
// One execution inside a native session (native_session.h): its layout for the sandbox's keeper
// (session_protocol.h's ExecBlock, in a memfd) and its supervision from the runner.

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "backends/backend.h"
#include "backends/native/supervisor.h"
#include "common/unique_fd.h"
#include "isol8/result.h"

namespace isol8 {

// The execution's argv, environment (`spec.env` then `extra_env`), working directory, request
// files, code file and setup steps (setup_steps.h) as one relocatable block in a memfd.
Result<UniqueFd> write_exec_block(const RunSpec& spec, const std::vector<std::string>& extra_env);

// The runner's ends of one execution's pipes (output ends non-blocking).
struct ExecPipes {
  UniqueFd stdin_write;
  UniqueFd stdout_read;
  UniqueFd stderr_read;
  UniqueFd setup_stdout_read;  // with a setup phase only
  UniqueFd setup_stderr_read;
};

struct ExecSupervision {
  SupervisionResult result;
  bool ended = false;      // init reported the execution's end
  int64_t max_rss_kb = 0;  // of the execution's reaped processes
  // Set when the sandbox itself is gone or stopped answering (init died, or a kill was not
  // carried out in time): the session cannot be used any more.
  std::string lost;
};

// Feeds stdin, pumps output, reads the reports on the control socket, and on the deadline or a
// cancel asks init to end the execution. Returns once init reports the execution's end; output
// already in the pipes then is delivered, but it does not wait for EOF (a background process
// the execution started may keep the pipes open).
// `setup_timeouts`: each setup step's limit, in order (empty: no setup phase); `timeout`: the
// program's.
ExecSupervision supervise_execution(int control_fd, int init_pidfd, ExecPipes& pipes,
                                    std::string_view stdin_data,
                                    const std::vector<std::chrono::milliseconds>& setup_timeouts,
                                    std::chrono::milliseconds timeout, OutputSink& sink,
                                    const RunControl& control);

// Sends init the kill command for the running execution.
bool send_kill_command(int control_fd);

}  // namespace isol8
