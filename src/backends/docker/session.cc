#include "backends/docker/session.h"

#include <thread>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "backends/docker/exec_call.h"
#include "backends/docker/filtered_side.h"
#include "backends/docker/invocation.h"
#include "backends/docker/run_driver.h"
#include "backends/docker/session_scripts.h"

namespace isol8::docker {
namespace {

using Clock = std::chrono::steady_clock;

// The session's helper execs (kill, relay start, OOM counter) are short.
constexpr std::chrono::milliseconds kHelperTimeout{10000};
// A transfer moves at most a tmpfs's worth of bytes through a local socket.
constexpr std::chrono::milliseconds kTransferTimeout{600000};
// How often the exit code of an execution that closed its output but still runs is asked for.
constexpr std::chrono::milliseconds kExitPoll{10};

std::string trimmed(std::string s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
  return s;
}

class DockerSession final : public Session {
 public:
  DockerSession(std::shared_ptr<DockerClient> client, std::string id,
                std::unique_ptr<FilteredSide> filtered, std::string image_setup, bool log_network)
      : client_(std::move(client)),
        id_(std::move(id)),
        filtered_(std::move(filtered)),
        image_setup_(std::move(image_setup)),
        log_network_(log_network) {}

  ~DockerSession() override {
    if (kept_) return;
    if (auto r = client_->remove_container(id_, /*force=*/true); !r && r.error().code != 404) {
      spdlog::warn("docker: could not remove the session's container {}: {}", id_.substr(0, 12),
                   r.error().message);
    }
    filtered_.reset();  // after the container: nothing uses the proxy any more
  }

  const std::string& id() const override { return id_; }

  Result<std::string> keep(std::chrono::seconds /*lifetime: the container stays*/) override {
    kept_ = true;
    const std::string shown = id_.substr(0, 12);
    return fmt::format(
        "container {}. Open a shell: docker exec -it {} bash. Remove it: docker rm -f {} (or "
        "isol8 cleanup).",
        shown, shown, shown);
  }

  // Starts the relay of a filtered session (once, for every execution).
  Result<void> start_relay() {
    ExecCall call;
    call.cmd = {"/bin/bash", "-c", kRelayStartScript, "isol8-relay"};
    call.user = kIdleUser;
    call.timeout = kHelperTimeout;
    auto r = call_exec(*client_, id_, call);
    if (!r) return std::move(r).error().context("cannot start the filtered network's relay");
    if (r->exit_code != 0) {
      return make_error(fmt::format("cannot start the filtered network's relay (exit {}): {}",
                                    r->exit_code, trimmed(r->err)));
    }
    return ok();
  }

  Result<RunOutcome> run(const RunSpec& spec, OutputSink& sink,
                         const RunControl& control) override {
    RunSpec s = spec;
    if (!image_setup_.empty()) {
      // The image's own setup script runs once per session, before the first execution's.
      s.setup_script = s.setup_script.empty() ? image_setup_ : image_setup_ + "\n" + s.setup_script;
      image_setup_.clear();
    }
    s.network = NetworkMode::kNone;  // a filtered session's relay already runs
    // No backstop: a runner killed during an execution leaves a container that its reclaim
    // (reclaim.h) removes, and a backstop's sleeping watcher would hold a pid of the session's
    // pids limit for the whole time limit after every execution.
    auto inv = plan_invocation(s, random_marker(), /*pooled=*/false, /*backstop=*/false);
    if (!inv) return std::move(inv).error();
    std::vector<std::string> cmd = {"/bin/bash", "-c", kPidPrelude, "isol8-exec"};
    cmd.insert(cmd.end(), inv->cmd.begin(), inv->cmd.end());
    auto exec = client_->create_exec(id_, make_exec_request(s, cmd));
    if (!exec) return gone_or(std::move(exec).error());
    const auto started_at = Clock::now();
    auto stream = client_->start_exec_attached(*exec);
    if (!stream) return gone_or(std::move(stream).error());
    std::optional<int> sid;
    const Ending ending{[&] { kill_execution(sid); },
                        [&](RunOutcome& outcome, Clock::time_point deadline) -> Result<void> {
                          for (;;) {
                            auto inspected = client_->inspect_exec(*exec);
                            if (!inspected) return std::move(inspected).error();
                            if (!inspected->running) {
                              outcome.exit_code = inspected->exit_code;
                              break;
                            }
                            // The program closed its output and runs on: its time limit still
                            // holds.
                            if (Clock::now() >= deadline) {
                              kill_execution(sid);
                              outcome.timed_out = true;
                              outcome.exit_code = 137;
                              outcome.term_signal = 9;
                              return ok();
                            }
                            std::this_thread::sleep_for(kExitPoll);
                          }
                          if (outcome.exit_code == 128 + 9) outcome.oom_killed = oom_struck();
                          return ok();
                        },
                        [&](int pid) { sid = pid; }};
    auto outcome = drive_run(s, sink, control, *inv, *stream, started_at, ending);
    if (outcome && filtered_ && log_network_) {
      outcome->network_logs = filtered_->take_logs(/*close_open=*/false);
    }
    return outcome;
  }

  Result<void> put_file(const std::string& path, std::string_view content, uint32_t mode) override {
    ExecCall call;
    call.cmd = {"/bin/bash", "-c", put_file_script(),
                "isol8-put", path, fmt::format("{:o}", mode & 07777)};
    call.user = kSandboxUser;
    call.stdin_data = content;
    call.attach_stdin = true;
    call.timeout = kTransferTimeout;
    auto r = call_exec(*client_, id_, call);
    if (!r) return gone_or(std::move(r).error()).context("writing " + path);
    if (r->exit_code == 0) return ok();
    if (r->exit_code == kRefused) {
      return make_error(fmt::format("Refused to write file {}: {}", path, trimmed(r->err)));
    }
    const std::string err = trimmed(r->err);
    return make_error(fmt::format("Failed to write file {} in container (exit code {}){}", path,
                                  r->exit_code, err.empty() ? "" : ": " + err));
  }

  Result<std::string> get_file(const std::string& path, uint64_t max_bytes) override {
    ExecCall call;
    call.cmd = {"/bin/bash", "-c", get_file_script(), "isol8-get", path, std::to_string(max_bytes)};
    call.user = kSandboxUser;
    call.max_stdout = max_bytes;
    call.timeout = kTransferTimeout;
    auto r = call_exec(*client_, id_, call);
    if (!r) return gone_or(std::move(r).error()).context("reading " + path);
    if (r->exit_code == kRefused) {
      return make_error(fmt::format("Refused to read file {}: {}", path, trimmed(r->err)));
    }
    if (r->exit_code != 0) {
      return make_error(fmt::format("Failed to read file {} in container: {} (exit code {})", path,
                                    trimmed(r->err), r->exit_code));
    }
    if (r->stdout_overflow) {
      return make_error(
          fmt::format("File {} is larger than the {} bytes it may have", path, max_bytes));
    }
    return std::move(r->out);
  }

 private:
  static constexpr int kRefused = 2;  // the transfer scripts' exit code for a refused path

  // A stopped or removed container (its pid 1 was OOM-killed, or someone removed it) named as
  // what it is.
  Error gone_or(Error e) const {
    const bool gone = e.code == 404 || e.message.find("is not running") != std::string::npos ||
                      e.message.find("No such container") != std::string::npos;
    if (!gone) return e;
    return make_error(fmt::format(
        "The session's container {} is not running any more ({}); stop the engine to start a new "
        "session",
        id_.substr(0, 12), e.message));
  }

  // Kills the processes of one execution: its session `sid`, learned from kPidPrelude; before the
  // prelude has spoken (a cancel at once), the session of the exec still running
  // (kExecKillScript). An exec needs a free pid of the container's pids limit, which a fork bomb
  // may hold: a few attempts, and when none gets through the container is killed (the session
  // ends; the next execution says so) rather than leaving the execution running.
  void kill_execution(const std::optional<int>& sid) {
    ExecCall call;
    call.user = kSandboxUser;
    call.timeout = kHelperTimeout;
    call.cmd = {"/bin/bash", "-c", kExecKillScript, "isol8-kill",
                sid ? std::to_string(*sid) : std::string()};
    std::string why;
    for (int attempt = 0; attempt < 20; ++attempt) {
      auto r = call_exec(*client_, id_, call);
      if (r && r->exit_code == 0) return;
      why = r ? fmt::format("exit {}: {}", r->exit_code, trimmed(r->err)) : r.error().message;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    spdlog::warn(
        "docker: could not kill an execution of session {} ({}); stopping the session's "
        "container",
        id_.substr(0, 12), why);
    (void)client_->kill_container(id_);
  }

  // Whether the OOM killer struck since the last look (the container started with a counter of
  // 0). A process of an earlier execution killed by it in between counts for this one.
  bool oom_struck() {
    auto kills = read_oom_kills(*client_, id_, kIdleUser);
    if (!kills) {
      spdlog::warn("docker: cannot tell whether the OOM killer ended the execution: {}",
                   kills.error().message);
      return false;
    }
    const bool struck = *kills > oom_seen_;
    oom_seen_ = *kills;
    return struck;
  }

  std::shared_ptr<DockerClient> client_;
  const std::string id_;
  std::unique_ptr<FilteredSide> filtered_;
  std::string image_setup_;  // until the first execution has run it
  const bool log_network_;
  bool kept_ = false;  // keep(): the container stays when this object goes
  uint64_t oom_seen_ = 0;
};

}  // namespace

Result<std::unique_ptr<Session>> open_session(std::shared_ptr<DockerClient> client,
                                              const RunSpec& spec, CreateParams params,
                                              std::string image_setup) {
  std::unique_ptr<FilteredSide> filtered;
  if (spec.network == NetworkMode::kFiltered) {
    auto side = FilteredSide::start(spec);
    if (!side) return std::move(side).error();
    filtered = std::move(side).value();
    params.filtered = filtered->mounts();
  }
  RunSpec sandbox = spec;
  sandbox.env.clear();  // each execution's environment is its exec's, never the container's
  params.cmd = {"sleep", "infinity"};
  params.persist = spec.persist;
  params.session = true;
  params.pooled = false;
  params.open_stdin = false;
  auto config = make_create_request(sandbox, params);
  if (!config) return std::move(config).error();
  auto id = client->create_container(*config);
  if (!id) return image_error(spec.image, id.error());
  // From here on the session owns the container (and the proxy): an error below removes both.
  auto session = std::make_unique<DockerSession>(client, *id, std::move(filtered),
                                                 std::move(image_setup), spec.log_network);
  if (auto started = client->start_container(*id); !started) {
    return std::move(started).error().context("starting the session's container");
  }
  if (spec.network == NetworkMode::kFiltered) ISOL8_TRY(session->start_relay());
  spdlog::debug("docker: session container {} started", id->substr(0, 12));
  return std::unique_ptr<Session>(std::move(session));
}

}  // namespace isol8::docker
