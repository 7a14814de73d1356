#pragma once
// One short exec in a running container whose whole output the runner wants: a helper script of
// the pool or a session (cleanup, OOM counter, kill, relay start, file transfer). stdin is
// written and closed; stdout is kept up to a cap (beyond it the call fails), stderr up to 4 KiB.

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "backends/docker/client.h"

namespace isol8::docker {

struct ExecCall {
  std::vector<std::string> cmd;
  std::string user;               // "uid:gid"
  std::vector<std::string> env;   // on top of the container's
  std::string_view stdin_data;    // written, then stdin is closed
  bool attach_stdin = false;      // attach stdin even when stdin_data is empty (an empty file)
  uint64_t max_stdout = 1 << 16;  // more is an error (stdout_overflow)
  std::chrono::milliseconds timeout{10000};
};

struct ExecCallResult {
  int exit_code = 0;
  std::string out;
  std::string err;
  bool stdout_overflow = false;
};

// Errors: the daemon refused the exec (a stopped container: "is not running"), the stream
// broke, or the time limit passed.
Result<ExecCallResult> call_exec(DockerClient& client, const std::string& container_id,
                                 const ExecCall& call);

// How many processes the OOM killer has killed in the container: the oom_kill counter of its
// memory cgroup, read by an exec of kOomCountScript as `user` (pool.h).
Result<uint64_t> read_oom_kills(DockerClient& client, const std::string& container_id,
                                const std::string& user);

}  // namespace isol8::docker
