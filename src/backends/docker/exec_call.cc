#include "backends/docker/exec_call.h"

#include <charconv>
#include <thread>

#include <fmt/format.h>

#include "backends/docker/demux.h"
#include "backends/docker/pool.h"
#include "backends/docker/stream_pump.h"

namespace isol8::docker {

using nlohmann::json;

Result<ExecCallResult> call_exec(DockerClient& client, const std::string& container_id,
                                 const ExecCall& call) {
  auto exec = client.create_exec(
      container_id, json{{"AttachStdin", call.attach_stdin || !call.stdin_data.empty()},
                         {"AttachStdout", true},
                         {"AttachStderr", true},
                         {"Tty", false},
                         {"User", call.user},
                         {"Env", call.env},
                         {"WorkingDir", "/"},
                         {"Cmd", call.cmd}});
  if (!exec) return std::move(exec).error();
  auto stream = client.start_exec_attached(*exec);
  if (!stream) return std::move(stream).error();
  ExecCallResult result;
  FrameDemuxer demux([&](FrameStream s, std::string_view d) {
    if (s == FrameStream::kStdout) {
      if (result.out.size() + d.size() > call.max_stdout) {
        result.stdout_overflow = true;
        return;
      }
      result.out.append(d);
    } else if (s != FrameStream::kStdin && result.err.size() < 4096) {
      result.err.append(d.substr(0, 4096 - result.err.size()));
    }
  });
  auto pumped = pump_stream(*stream, call.stdin_data,
                            std::chrono::steady_clock::now() + call.timeout, -1, demux);
  if (!pumped) return std::move(pumped).error();
  if (pumped->timed_out) {
    return make_error(fmt::format("the exec {} in container {} did not finish within {} ms",
                                  call.cmd.empty() ? "" : call.cmd.front(),
                                  container_id.substr(0, 12), call.timeout.count()));
  }
  // The output streams end when the process exits (nothing else holds them in these scripts);
  // the exit code may still be a moment away in the daemon.
  for (int i = 0; i < 2000; ++i) {  // up to 10 s: a busy daemon may be slow to hear of the exit
    auto inspected = client.inspect_exec(*exec);
    if (!inspected) return std::move(inspected).error();
    if (!inspected->running) {
      result.exit_code = inspected->exit_code;
      return result;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return make_error("the exec's exit code did not arrive");
}

Result<uint64_t> read_oom_kills(DockerClient& client, const std::string& container_id,
                                const std::string& user) {
  ExecCall call;
  call.cmd = {"/bin/bash", "-c", kOomCountScript};
  call.user = user;
  call.max_stdout = 64;
  auto r = call_exec(client, container_id, call);
  if (!r) return std::move(r).error();
  uint64_t n = 0;
  const auto [end, ec] = std::from_chars(r->out.data(), r->out.data() + r->out.size(), n);
  if (r->exit_code != 0 || ec != std::errc() || end == r->out.data()) {
    return make_error("cannot read the container's oom_kill counter");
  }
  return n;
}

}  // namespace isol8::docker
