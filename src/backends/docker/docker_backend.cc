#include "backends/docker/docker_backend.h"

#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>

#include <filesystem>
#include <functional>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "backends/docker/client.h"
#include "backends/docker/container_spec.h"
#include "backends/docker/image_import.h"
#include "backends/docker/invocation.h"
#include "backends/docker/pool.h"
#include "backends/docker/reclaim.h"
#include "backends/docker/stream_pump.h"
#include "common/pid_dirs.h"
#include "common/process_owner.h"
#include "common/relay_path.h"
#include "common/scope_exit.h"
#include "proxy/filtering_proxy.h"
#include "seccomp/policy.h"

namespace isol8 {
namespace {

using docker::DockerClient;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

// After a kill, output already on its way is still read for this long.
constexpr std::chrono::milliseconds kDrainGrace{500};

std::filesystem::path installed_profiles_dir() {
  std::error_code ec;
  const auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) return {};
  return exe.parent_path().parent_path() / "share" / "isol8" / "profiles";
}

std::string random_marker() {
  unsigned char bytes[16] = {};
  if (::getrandom(bytes, sizeof bytes, 0) != static_cast<ssize_t>(sizeof bytes)) {
    // getrandom on Linux >= 3.17 does not fail for 16 bytes; keep a usable value anyway.
    const auto t = Clock::now().time_since_epoch().count();
    std::memcpy(bytes, &t, sizeof t);
  }
  std::string out = "ISOL8-SETUP-";
  for (unsigned char b : bytes) out += fmt::format("{:02x}", b);
  return out;
}

Error image_error(const std::string& image, const Error& e) {
  if (e.code == 404 && e.message.find("No such image") != std::string::npos) {
    return make_error(fmt::format(
        "Docker image {} not found. Run `isol8 setup --backend docker` to import the runtime "
        "images (or pass --image <name>).",
        image));
  }
  return e;
}

// Delivers demultiplexed output to the sink, taking the setup marker out of each stream. The
// daemon copies stdout and stderr independently, so one stream's marker can arrive before the
// other stream's last setup output: code-phase output of the first stream is held back until the
// other stream's marker (or its end) has passed, and only then is on_setup_exit() called.
// Output before the marker is the setup's (OutputSink::on_setup_output: streamed with phase
// "setup", kept out of the result); `on_setup_end` runs when the first marker shows that the
// setup script has exited (the code phase's time limit starts then).
class SetupAwareOutput {
 public:
  SetupAwareOutput(OutputSink& sink, const std::string& marker, std::function<void()> on_setup_end)
      : sink_(sink),
        scanners_{docker::SetupMarkerScanner(marker), docker::SetupMarkerScanner(marker)},
        active_(!marker.empty()),
        on_setup_end_(std::move(on_setup_end)) {}

  void on_frame(docker::FrameStream stream, std::string_view data) {
    if (stream == docker::FrameStream::kStdin) return;
    const int i = stream == docker::FrameStream::kStdout ? 0 : 1;
    const bool in_setup = active_ && !scanners_[i].seen();
    auto piece = scanners_[i].feed(data);
    if (!piece.before.empty()) deliver(i, piece.before, in_setup);
    if (piece.exit) {
      if (!code_ && on_setup_end_) on_setup_end_();
      code_ = *piece.exit;
      step_ = piece.step;
      passed_[i] = true;
    }
    if (!piece.after.empty()) {
      if (boundary_done_) {
        sink_.on_output(which(i), piece.after);
      } else {
        held_[i] += piece.after;
      }
    }
    if (active_ && !boundary_done_ && passed_[0] && passed_[1]) cross_boundary();
  }

  void finish() {
    for (int i = 0; i < 2; ++i) {
      const std::string rest = scanners_[i].finish();
      if (!rest.empty()) deliver(i, rest, active_ && !scanners_[i].seen());
    }
    if (active_ && !boundary_done_ && code_) cross_boundary();
  }

  std::optional<int> setup_exit() const { return code_; }
  size_t setup_step() const { return step_; }

 private:
  static OutputStream which(int i) {
    return i == 0 ? OutputStream::kStdout : OutputStream::kStderr;
  }

  // Output that precedes the stream's marker is the setup's.
  void deliver(int i, std::string_view data, bool setup_phase) {
    if (setup_phase) {
      sink_.on_setup_output(which(i), data);
    } else {
      sink_.on_output(which(i), data);
    }
  }

  void cross_boundary() {
    boundary_done_ = true;
    sink_.on_setup_exit(*code_);
    for (int i = 0; i < 2; ++i) {
      if (!held_[i].empty()) sink_.on_output(which(i), held_[i]);
      held_[i].clear();
    }
  }

  OutputSink& sink_;
  docker::SetupMarkerScanner scanners_[2];
  const bool active_;
  std::function<void()> on_setup_end_;
  bool passed_[2] = {false, false};
  bool boundary_done_ = false;
  std::string held_[2];
  std::optional<int> code_;
  size_t step_ = 0;
};

// The runner side of a filtered container: a private directory (0700) with the filtering proxy's
// Unix socket, which is bind-mounted into the container together with the relay. The proxy stops
// and the directory goes when this is destroyed (after the container is removed).
class FilteredSide {
 public:
  static Result<std::unique_ptr<FilteredSide>> start(const RunSpec& spec) {
    auto relay = find_relay_binary();
    if (!relay) return std::move(relay).error();
    // Named after this process, so that the next backend can remove it if this one is killed.
    auto dir = make_pid_dir(docker::kProxyDirPrefix);
    if (!dir) return std::move(dir).error();
    auto side = std::unique_ptr<FilteredSide>(new FilteredSide(*dir));
    proxy::ProxyConfig config;
    config.filter = spec.network_filter;
    config.log_network = spec.log_network;
    proxy::Listener listener;
    listener.unix_path = *dir + "/proxy.sock";
    listener.unix_mode = 0666;  // the container's uid 100 connects; the directory is private
    auto started = proxy::FilteringProxy::start(std::move(config), {listener});
    if (!started) return std::move(started).error().context("cannot start the filtering proxy");
    side->proxy_ = std::move(started).value();
    side->mounts_ = docker::FilteredMounts{listener.unix_path, relay->string()};
    return side;
  }

  ~FilteredSide() {
    proxy_.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  const docker::FilteredMounts& mounts() const { return mounts_; }

  std::vector<NetworkLogEntry> take_logs() {
    proxy_->close_connections();  // open tunnels are logged when they close
    return proxy_->take_logs();
  }

 private:
  explicit FilteredSide(std::string dir) : dir_(std::move(dir)) {}
  std::string dir_;
  std::unique_ptr<proxy::FilteringProxy> proxy_;
  docker::FilteredMounts mounts_;
};

class DockerBackend final : public Backend {
 public:
  DockerBackend(std::shared_ptr<DockerClient> client, std::optional<std::string> seccomp,
                const std::optional<ProcessOwner>& self, const Options& options)
      : client_(std::move(client)),
        seccomp_(std::move(seccomp)),
        owner_(self ? format_owner(*self) : std::string()),
        reclaimer_(client_, self) {
    if (options.pool_size.clean > 0 || options.pool_size.dirty > 0) {
      pool_ = std::make_unique<docker::ContainerPool>(client_, options.pool_strategy,
                                                      options.pool_size);
    }
  }

  const char* name() const override { return "docker"; }

  // The interpreter is looked up on the image's PATH when the container starts (image_argv); a
  // missing one fails there with the daemon's message.
  bool has_executable(const std::string&, const std::string&) const override { return true; }

  Result<RunOutcome> run(const RunSpec& request_spec, OutputSink& sink,
                         const RunControl& control) override {
    auto with_setup = with_image_setup(request_spec);
    if (!with_setup) return std::move(with_setup).error();
    const RunSpec& spec = with_setup->spec;
    const bool backstop = with_setup->backstop;
    if (spec.network == NetworkMode::kFiltered) return run_filtered(spec, backstop, sink, control);
    return pool_ ? run_pooled(spec, backstop, sink, control)
                 : run_one_shot(spec, backstop, sink, control);
  }

 private:
  // The spec with the image's own setup script (the kSetupLabel label of a custom image built
  // by `isol8 build --backend docker`) in front of the request's, as the native backend does
  // with the root's manifest; and whether the image can run the backstop (kBackstopLabel). Also
  // where a missing image is reported.
  struct ImageSpec {
    RunSpec spec;
    bool backstop = false;
  };
  Result<ImageSpec> with_image_setup(const RunSpec& spec) const {
    auto image = client_->inspect_image(spec.image);
    if (!image) return image_error(spec.image, image.error());
    if (!image->has_value()) {
      return image_error(spec.image, Error{404, "No such image: " + spec.image});
    }
    const json& labels = (**image)["Config"]["Labels"];
    ImageSpec out{spec, labels.is_object() && labels.contains(docker::kBackstopLabel)};
    if (labels.is_object() && labels.contains(docker::kSetupLabel)) {
      auto setup = docker::from_hex(labels[docker::kSetupLabel].get<std::string>());
      if (!setup) {
        return make_error(fmt::format("Docker image {} has a malformed {} label", spec.image,
                                      docker::kSetupLabel));
      }
      // The same joining as rootfs::compose_setup_script (the image's first).
      out.spec.setup_script =
          spec.setup_script.empty() ? *setup : *setup + "\n" + spec.setup_script;
    }
    return out;
  }

  docker::CreateParams params(const RunSpec& spec) const {
    docker::CreateParams p;
    p.runtime = spec.runtime;
    p.seccomp_profile = seccomp_;
    p.owner = owner_;
    return p;
  }

  static void fill_limits(RunOutcome& outcome) {
    outcome.limits.enforced = {"memory", "pids", "cpu"};
  }

  // Filtered: always a container of its own (a pooled one would outlive this run's proxy).
  Result<RunOutcome> run_filtered(const RunSpec& spec, bool backstop, OutputSink& sink,
                                  const RunControl& control) {
    if (client_->endpoint().kind != docker::Endpoint::Kind::kUnix) {
      return make_error(fmt::format(
          "Network mode \"filtered\" on the docker backend needs a local Docker daemon (it "
          "bind-mounts the filtering proxy's socket into the container), but DOCKER_HOST is {}; "
          "use a local daemon, or \"none\" or \"host\"",
          client_->endpoint().display()));
    }
    auto side = FilteredSide::start(spec);
    if (!side) return std::move(side).error();
    auto outcome = run_one_shot(spec, backstop, sink, control, &(*side)->mounts());
    if (outcome && spec.log_network) outcome->network_logs = (*side)->take_logs();
    return outcome;
  }

  // How a started run ends, the one thing a container of its own and a pooled exec do
  // differently: what kills it, and where its exit code and OOM verdict come from.
  struct Ending {
    std::function<void()> kill;
    std::function<Result<void>(RunOutcome&)> collect;  // exit_code and oom_killed
  };

  // Streams a started run to the sink with the time limit of each phase (the setup script's,
  // then the program's, which starts when the setup's marker arrives), kills it on timeout or
  // cancel, and fills in the outcome.
  Result<RunOutcome> drive(const RunSpec& spec, OutputSink& sink, const RunControl& control,
                           const docker::Invocation& inv, docker::HijackedStream& stream,
                           Clock::time_point started_at, const Ending& ending) {
    Clock::time_point deadline =
        started_at + (inv.has_setup ? docker::setup_phase_limit(spec) : spec.timeout);
    SetupAwareOutput output(sink, inv.marker, [&] { deadline = Clock::now() + spec.timeout; });
    docker::FrameDemuxer demux(
        [&](docker::FrameStream s, std::string_view d) { output.on_frame(s, d); });
    auto pumped =
        docker::pump_stream(stream, inv.stdin_payload, deadline, control.cancel_fd, demux);
    if (!pumped) return std::move(pumped).error();
    RunOutcome outcome;
    fill_limits(outcome);
    if (pumped->timed_out || pumped->cancelled) {
      // A cancelled run's output is of no use any more (its reader may be gone): the attach
      // stream is closed before the kill, so that the daemon never blocks writing a flood (yes)
      // into a stream nobody reads while it processes the container's exit, which held the
      // kill request forever.
      if (pumped->cancelled) ::shutdown(stream.fd.get(), SHUT_RDWR);
      ending.kill();
      drain_stream(stream, kDrainGrace, demux);
      output.finish();
      outcome.timed_out = pumped->timed_out;
      outcome.cancelled = pumped->cancelled;
      // The setup script never reported its end: the setup phase ran out of time.
      outcome.setup_timed_out = pumped->timed_out && inv.has_setup && !output.setup_exit();
      // Only the phase's end is reported: a setup phase of installs alone ran out of time in
      // one of them (the first is named).
      if (outcome.setup_timed_out && spec.setup_script.empty() && !spec.setup_commands.empty()) {
        outcome.setup_failed_command = 0;
      }
      outcome.exit_code = 137;
      outcome.term_signal = 9;
    } else {
      output.finish();
      ISOL8_TRY(ending.collect(outcome));
    }
    outcome.duration =
        std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started_at);
    outcome.usage.wall_ms = outcome.duration.count();
    outcome.usage.cpu_and_memory_measured = false;
    if (!outcome.setup_timed_out && output.setup_exit() && *output.setup_exit() != 0) {
      outcome.setup_failed_exit = *output.setup_exit();
      if (output.setup_step() < spec.setup_commands.size()) {
        outcome.setup_failed_command = output.setup_step();
      }
    }
    return outcome;
  }

  // One container for this run: create, attach, start, stream, inspect, remove.
  Result<RunOutcome> run_one_shot(const RunSpec& spec, bool backstop, OutputSink& sink,
                                  const RunControl& control,
                                  const docker::FilteredMounts* filtered = nullptr) {
    auto inv = docker::plan_invocation(spec, random_marker(), /*pooled=*/false, backstop);
    if (!inv) return std::move(inv).error();
    auto p = params(spec);
    p.cmd = inv->cmd;
    p.open_stdin = !inv->stdin_payload.empty();
    if (filtered) p.filtered = *filtered;
    auto config = docker::make_create_request(spec, p);
    if (!config) return std::move(config).error();

    auto id = client_->create_container(*config);
    if (!id) return image_error(spec.image, id.error());
    ScopeExit remove([&] {
      if (auto r = client_->remove_container(*id, true); !r) {
        spdlog::warn("docker: could not remove container {}: {}", id->substr(0, 12),
                     r.error().message);
      }
    });
    auto stream = client_->attach_container(*id, p.open_stdin);
    if (!stream) return std::move(stream).error();
    const auto started_at = Clock::now();
    if (auto started = client_->start_container(*id); !started) return std::move(started).error();
    const Ending ending{[&] { (void)client_->kill_container(*id); },
                        [&](RunOutcome& outcome) -> Result<void> {
                          auto inspected = client_->inspect_container(*id);
                          if (!inspected) return std::move(inspected).error();
                          if ((*inspected)["State"].value("Running", false)) {
                            // The output streams closed while the process still runs (it closed
                            // them): wait.
                            auto code = client_->wait_container(*id);
                            if (!code) return std::move(code).error();
                            inspected = client_->inspect_container(*id);
                            if (!inspected) return std::move(inspected).error();
                          }
                          const json& state = (*inspected)["State"];
                          outcome.exit_code = state.value("ExitCode", 1);
                          // Set by the daemon for any OOM kill in the container's cgroup, as on
                          // native.
                          outcome.oom_killed = state.value("OOMKilled", false);
                          return ok();
                        }};
    return drive(spec, sink, control, *inv, *stream, started_at, ending);
  }

  // An exec in a warm container; the container goes back to the pool (cleaned before reuse),
  // or is removed after a timeout, a cancel or an OOM kill.
  Result<RunOutcome> run_pooled(const RunSpec& spec, bool backstop, OutputSink& sink,
                                const RunControl& control) {
    auto inv = docker::plan_invocation(spec, random_marker(), /*pooled=*/true, backstop);
    if (!inv) return std::move(inv).error();
    auto p = params(spec);
    p.pooled = true;
    p.cmd = {"sleep", "infinity"};
    auto config = docker::make_create_request(spec, p);
    if (!config) return std::move(config).error();
    auto id = pool_->acquire(*config);
    if (!id) return image_error(spec.image, id.error());
    bool reusable = false;
    ScopeExit give_back([&] {
      if (reusable) {
        pool_->release(*config, *id);
      } else {
        pool_->discard(*id);
      }
    });
    auto exec = client_->create_exec(*id, docker::make_exec_request(spec, inv->cmd));
    if (!exec) return std::move(exec).error();
    const auto started_at = Clock::now();
    auto stream = client_->start_exec_attached(*exec);
    if (!stream) return std::move(stream).error();
    const Ending ending{
        // The whole container: the exec's processes have no handle of their own.
        [&] { (void)client_->kill_container(*id); },
        [&](RunOutcome& outcome) -> Result<void> {
          auto result = client_->inspect_exec(*exec);
          if (!result) return std::move(result).error();
          outcome.exit_code = result->exit_code;
          // State.OOMKilled is container-wide and sticky, so it cannot tell this exec's fate.
          // The container came out of the pool with an oom_kill counter of 0 (the cleanup
          // refuses others); an OOM kill ends the program with SIGKILL, so the counter is
          // read when the exit code says SIGKILL. (A child killed by the OOM killer while the
          // program survives is not seen here; one-shot containers and native runs see it.)
          if (outcome.exit_code == 128 + SIGKILL) {
            auto kills = pool_->oom_kills(*id);
            if (kills) {
              outcome.oom_killed = *kills > 0;
            } else {
              spdlog::warn("docker: cannot tell whether the OOM killer ended the run: {}",
                           kills.error().message);
            }
          }
          reusable = !outcome.oom_killed;
          return ok();
        }};
    return drive(spec, sink, control, *inv, *stream, started_at, ending);
  }

  std::shared_ptr<DockerClient> client_;
  std::optional<std::string> seccomp_;
  const std::string owner_;  // label kOwnerLabel of every container; empty when unknown
  // What killed runners left, removed while this backend serves its first run (joined when the
  // backend goes).
  docker::StaleReclaimer reclaimer_;
  std::unique_ptr<docker::ContainerPool> pool_;
};

}  // namespace

Result<std::unique_ptr<Backend>> make_docker_backend(const Options& options) {
  auto text = load_seccomp_profile_text(
      options.security.seccomp, options.security.custom_profile_path, installed_profiles_dir());
  if (!text) return std::move(text).error();
  std::optional<std::string> profile;
  if (*text) {
    // Compact: the profile travels inside the SecurityOpt string of every create request.
    profile = json::parse(**text).dump();
  } else {
    spdlog::warn("seccomp is unconfined: the docker sandbox runs without a syscall filter");
  }
  auto client = DockerClient::from_environment();
  if (!client) return std::move(client).error();
  ISOL8_TRY((*client)->ping());
  // Once per backend: every container it creates names this process as its owner.
  auto self = current_owner();
  if (!self) {
    spdlog::warn(
        "docker: containers get no owner label ({}): if isol8 is killed, only "
        "`isol8 cleanup` removes them",
        self.error().message);
  }
  return std::unique_ptr<Backend>(std::make_unique<DockerBackend>(
      std::move(*client), std::move(profile),
      self ? std::optional<ProcessOwner>(*self) : std::nullopt, options));
}

}  // namespace isol8
