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
#include "backends/docker/filtered_side.h"
#include "backends/docker/image_import.h"
#include "backends/docker/invocation.h"
#include "backends/docker/late_oom.h"
#include "backends/docker/pool.h"
#include "backends/docker/reclaim.h"
#include "backends/docker/run_driver.h"
#include "backends/docker/session.h"
#include "backends/docker/stream_pump.h"
#include "common/companion_binaries.h"
#include "common/pid_dirs.h"
#include "common/process_owner.h"
#include "common/scope_exit.h"
#include "proxy/filtering_proxy.h"
#include "seccomp/policy.h"

namespace isol8 {
namespace {

using docker::DockerClient;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

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

  // A persistent session's container (session.h). The image's own setup script runs once, with
  // the first execution.
  Result<std::unique_ptr<Session>> open_session(const RunSpec& spec) override {
    auto image = with_image_setup(spec);
    if (!image) return std::move(image).error();
    if (spec.network == NetworkMode::kFiltered) ISOL8_TRY(check_filtered_endpoint());
    return docker::open_session(client_, spec, params(spec), std::move(image->image_setup));
  }

 private:
  // The spec with the image's own setup script (the kSetupLabel label of a custom image built
  // by `isol8 build --backend docker`) in front of the request's, as the native backend does
  // with the root's manifest; and whether the image can run the backstop (kBackstopLabel). Also
  // where a missing image is reported.
  struct ImageSpec {
    RunSpec spec;
    bool backstop = false;
    std::string image_setup;  // the image's own setup script, alone
  };
  Result<ImageSpec> with_image_setup(const RunSpec& spec) const {
    auto image = client_->inspect_image(spec.image);
    if (!image) return docker::image_error(spec.image, image.error());
    if (!image->has_value()) {
      return docker::image_error(spec.image, Error{404, "No such image: " + spec.image});
    }
    const json& labels = (**image)["Config"]["Labels"];
    ImageSpec out{spec, labels.is_object() && labels.contains(docker::kBackstopLabel), {}};
    if (labels.is_object() && labels.contains(docker::kSetupLabel)) {
      auto setup = docker::from_hex(labels[docker::kSetupLabel].get<std::string>());
      if (!setup) {
        return make_error(fmt::format("Docker image {} has a malformed {} label", spec.image,
                                      docker::kSetupLabel));
      }
      out.image_setup = *setup;
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

  // The filtered network bind-mounts the runner's proxy socket: a daemon of this machine only.
  Result<void> check_filtered_endpoint() const {
    if (client_->endpoint().kind != docker::Endpoint::Kind::kUnix) {
      return make_error(fmt::format(
          "Network mode \"filtered\" on the docker backend needs a local Docker daemon (it "
          "bind-mounts the filtering proxy's socket into the container), but DOCKER_HOST is {}; "
          "use a local daemon, or \"none\" or \"host\"",
          client_->endpoint().display()));
    }
    return ok();
  }

  // Filtered: always a container of its own (a pooled one would outlive this run's proxy).
  Result<RunOutcome> run_filtered(const RunSpec& spec, bool backstop, OutputSink& sink,
                                  const RunControl& control) {
    ISOL8_TRY(check_filtered_endpoint());
    auto side = docker::FilteredSide::start(spec);
    if (!side) return std::move(side).error();
    auto outcome = run_one_shot(spec, backstop, sink, control, &(*side)->mounts());
    if (outcome && spec.log_network) outcome->network_logs = (*side)->take_logs();
    return outcome;
  }

  // One container for this run: create, attach, start, stream, inspect, remove.
  Result<RunOutcome> run_one_shot(const RunSpec& spec, bool backstop, OutputSink& sink,
                                  const RunControl& control,
                                  const docker::FilteredMounts* filtered = nullptr) {
    auto inv = docker::plan_invocation(spec, docker::random_marker(), /*pooled=*/false, backstop);
    if (!inv) return std::move(inv).error();
    auto p = params(spec);
    p.cmd = inv->cmd;
    p.open_stdin = !inv->stdin_payload.empty() || control.stdin_fd >= 0;
    if (filtered) p.filtered = *filtered;
    auto config = docker::make_create_request(spec, p);
    if (!config) return std::move(config).error();

    auto id = client_->create_container(*config);
    if (!id) return docker::image_error(spec.image, id.error());
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
    const docker::Ending ending{[&] { (void)client_->kill_container(*id); },
                                [&](RunOutcome& outcome, Clock::time_point) -> Result<void> {
                                  auto inspected = client_->inspect_container(*id);
                                  if (!inspected) return std::move(inspected).error();
                                  if ((*inspected)["State"].value("Running", false)) {
                                    // The output streams closed while the process still runs (it
                                    // closed them): wait.
                                    auto code = client_->wait_container(*id);
                                    if (!code) return std::move(code).error();
                                    inspected = client_->inspect_container(*id);
                                    if (!inspected) return std::move(inspected).error();
                                  }
                                  const json& state = (*inspected)["State"];
                                  outcome.exit_code = state.value("ExitCode", 1);
                                  // Set by the daemon for any OOM kill in the container's cgroup,
                                  // as on native.
                                  outcome.oom_killed = state.value("OOMKilled", false);
                                  // SIGKILLed, and not by us (timeouts and cancels do not get
                                  // here): the flag may come late (late_oom.h). Costs the wait
                                  // only to a program that kills itself.
                                  if (!outcome.oom_killed && outcome.exit_code == 128 + SIGKILL) {
                                    outcome.oom_killed =
                                        docker::await_late_oom_flag([&]() -> Result<bool> {
                                          auto again = client_->inspect_container(*id);
                                          if (!again) return std::move(again).error();
                                          return (*again)["State"].value("OOMKilled", false);
                                        });
                                  }
                                  return ok();
                                },
                                {}};
    return docker::drive_run(spec, sink, control, *inv, *stream, started_at, ending);
  }

  // An exec in a warm container; the container goes back to the pool (cleaned before reuse),
  // or is removed after a timeout, a cancel or an OOM kill.
  Result<RunOutcome> run_pooled(const RunSpec& spec, bool backstop, OutputSink& sink,
                                const RunControl& control) {
    auto inv = docker::plan_invocation(spec, docker::random_marker(), /*pooled=*/true, backstop);
    if (!inv) return std::move(inv).error();
    auto p = params(spec);
    p.pooled = true;
    p.cmd = {"sleep", "infinity"};
    auto config = docker::make_create_request(spec, p);
    if (!config) return std::move(config).error();
    auto id = pool_->acquire(*config);
    if (!id) return docker::image_error(spec.image, id.error());
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
    const docker::Ending ending{
        // The whole container: the exec's processes have no handle of their own.
        [&] { (void)client_->kill_container(*id); },
        [&](RunOutcome& outcome, Clock::time_point) -> Result<void> {
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
        },
        {}};
    return docker::drive_run(spec, sink, control, *inv, *stream, started_at, ending);
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
