#include "backends/native/native_backend.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <pwd.h>
#include <sched.h>
#include <sys/capability.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include <iterator>
#include <sstream>

#include "backends/native/sandbox_process.h"
#include "backends/native/supervisor.h"
#include "common/fs_util.h"
#include "common/trace.h"
#include "namespaces/child_report.h"
#include "namespaces/clone.h"
#include "seccomp/policy.h"

namespace isol8 {
namespace {

struct PipePair {
  UniqueFd read;
  UniqueFd write;
};

Result<PipePair> make_pipe() {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return errno_error("pipe2");
  return PipePair{UniqueFd(fds[0]), UniqueFd(fds[1])};
}

Result<PipePair> make_sync_socket() {
  int fds[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds) != 0) {
    return errno_error("socketpair");
  }
  return PipePair{UniqueFd(fds[0]), UniqueFd(fds[1])};
}

// <prefix>/share/isol8/profiles next to an installed <prefix>/bin/isol8; the seccomp policy
// falls back to the profile embedded at build time when it is absent.
std::filesystem::path installed_profiles_dir() {
  std::error_code ec;
  const auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) return {};
  return exe.parent_path().parent_path() / "share" / "isol8" / "profiles";
}

// Finds the runner's argv+environ block from /proc/self/stat (fields 48 to 51).
void locate_runner_args(NativeSettings& settings) {
  auto stat = read_file("/proc/self/stat");
  if (!stat) return;
  const auto paren = stat->rfind(')');
  if (paren == std::string::npos) return;
  std::istringstream fields(stat->substr(paren + 2));
  std::vector<std::string> f{std::istream_iterator<std::string>(fields),
                             std::istream_iterator<std::string>()};
  // fields[0] is field 3 (state); arg_start is field 48, env_end field 51.
  if (f.size() < 49) return;
  const uintptr_t begin = std::stoull(f[45]);
  const uintptr_t end = std::stoull(f[48]);
  if (begin == 0 || end <= begin) return;
  settings.runner_args_begin = reinterpret_cast<char*>(begin);
  settings.runner_args_size = static_cast<size_t>(end - begin);
}

std::string describe_failure(const ChildMessage& msg, const RunSpec& spec) {
  const auto step = static_cast<ChildStep>(msg.step);
  std::string text = std::string("sandbox setup failed while ") + child_step_name(step) + ": " +
                     std::strerror(msg.error);
  if (step == ChildStep::kExec) text += " (" + spec.argv.at(0) + ")";
  if (step == ChildStep::kWorkdir) text += " (" + spec.workdir + ")";
  return text;
}

bool has_effective_net_admin() {
  cap_t caps = cap_get_proc();
  if (caps == nullptr) return false;
  cap_flag_value_t value = CAP_CLEAR;
  const bool got = cap_get_flag(caps, CAP_NET_ADMIN, CAP_EFFECTIVE, &value) == 0;
  cap_free(caps);
  return got && value == CAP_SET;
}

}  // namespace

FilteredMode effective_filtered_mode(FilteredMode configured) {
  if (configured != FilteredMode::kAuto) return configured;
  return ::geteuid() == 0 && has_effective_net_admin() ? FilteredMode::kVeth : FilteredMode::kRelay;
}

NativeBackend::~NativeBackend() = default;

bool NativeBackend::has_executable(const std::string& root_dir, const std::string& path) const {
  // Resolve inside the root, so that the root's absolute symlinks point into the root.
  UniqueFd root(
      ::open(root_dir.empty() ? "/" : root_dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!root) return false;
  struct open_how how {};
  how.flags = O_PATH | O_CLOEXEC;
  how.resolve = RESOLVE_IN_ROOT;
  UniqueFd file(
      static_cast<int>(::syscall(SYS_openat2, root.get(), path.c_str(), &how, sizeof how)));
  struct stat st;
  return file && ::fstat(file.get(), &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 0111) != 0;
}

namespace {

// Step 4: the sandbox's stdio pipes and sync socket, and with a setup script the setup phase's own
// output pipes, so that its phase is never mistaken.
class RunPipes {
 public:
  static Result<RunPipes> create(bool with_setup) {
    RunPipes p;
    auto in = make_pipe();
    auto out = make_pipe();
    auto err = make_pipe();
    auto sync = make_sync_socket();
    if (!in) return std::move(in).error();
    if (!out) return std::move(out).error();
    if (!err) return std::move(err).error();
    if (!sync) return std::move(sync).error();
    p.in_ = std::move(in).value();
    p.out_ = std::move(out).value();
    p.err_ = std::move(err).value();
    p.sync_ = std::move(sync).value();
    ::fcntl(p.in_.write.get(), F_SETFL, O_NONBLOCK);
    // A larger stdout pipe means fewer wake-ups for chatty programs; failure only costs speed.
    ::fcntl(p.out_.read.get(), F_SETPIPE_SZ, 1 << 20);
    if (with_setup) {
      auto o = make_pipe();
      auto e = make_pipe();
      if (!o) return std::move(o).error();
      if (!e) return std::move(e).error();
      p.setup_out_ = std::move(o).value();
      p.setup_err_ = std::move(e).value();
    }
    return p;
  }

  void give_child_ends(ChildSpec& child) const {
    child.stdin_fd = in_.read.get();
    child.stdout_fd = out_.write.get();
    child.stderr_fd = err_.write.get();
    child.sync_fd = sync_.write.get();
    if (setup_out_) {
      child.setup_stdout_fd = setup_out_->write.get();
      child.setup_stderr_fd = setup_err_->write.get();
    }
  }

  // Once the child exists: the parent's ends, and the child's closed here.
  SandboxPipes take_parent_ends() {
    SandboxPipes pipes;
    pipes.stdin_write = std::move(in_.write);
    pipes.stdout_read = std::move(out_.read);
    pipes.stderr_read = std::move(err_.read);
    pipes.sync = std::move(sync_.read);
    if (setup_out_) {
      pipes.setup_stdout_read = std::move(setup_out_->read);
      pipes.setup_stderr_read = std::move(setup_err_->read);
      setup_out_->write.reset();
      setup_err_->write.reset();
    }
    in_.read.reset();
    out_.write.reset();
    err_.write.reset();
    sync_.write.reset();
    return pipes;
  }

 private:
  PipePair in_, out_, err_, sync_;
  std::optional<PipePair> setup_out_, setup_err_;
};

// Step 5: the child starts in its new namespaces (and, on v2, in its cgroup) and waits.
// With a veth network (`netns_fd`): setns() for network namespaces is per thread, so this thread
// enters the prepared namespace, clones (the child inherits it instead of getting a new one) and
// goes back. The child cannot setns itself: after CLONE_NEWUSER it has no rights over the host's
// namespaces.
Result<SandboxProcess> clone_sandbox(SpawnPlan& plan, RunPipes& pipes, int cgroup_fd,
                                     int netns_fd) {
  UniqueFd home_netns;
  if (netns_fd >= 0) {
    home_netns.reset(::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC));
    if (!home_netns) return errno_error("open /proc/thread-self/ns/net");
    if (::setns(netns_fd, CLONE_NEWNET) != 0) {
      return errno_error("setns into the sandbox's network namespace");
    }
  }
  auto cloned = clone_with_pidfd(plan.clone_flags(), cgroup_fd);
  if (cloned && cloned->pid == 0) run_sandbox_init(plan.child());
  // A runner thread left in the sandbox's namespace would put its later sockets there.
  if (home_netns && ::setns(home_netns.get(), CLONE_NEWNET) != 0) std::abort();
  if (!cloned) return std::move(cloned).error().context("while creating the sandbox namespaces");
  return SandboxProcess(cloned->pid, std::move(cloned->pidfd), pipes.take_parent_ends());
}

// Step 5 on cgroup v1 (the waiting child moves into its cgroup before it runs anything), step 7
// (the id maps) and step 8 ("go").
Result<void> release_sandbox(SandboxProcess& sandbox, Cgroup* cgroup, bool cloned_into_cgroup,
                             const SpawnPlan& plan) {
  if (cgroup && !cloned_into_cgroup) {
    if (auto added = cgroup->add_process(sandbox.pid()); !added) {
      return std::move(added).error().context("while moving the sandbox into its cgroup");
    }
  }
  if (auto mapped = apply_id_maps(sandbox.pid(), plan.id_maps()); !mapped) {
    return std::move(mapped).error().context("while writing the sandbox's uid/gid maps");
  }
  const char go = 'g';
  if (::send(sandbox.pipes().sync.get(), &go, 1, MSG_NOSIGNAL) != 1) {
    return errno_error("while starting the sandbox");
  }
  return ok();
}

// How the run ended: a setup step's failure, the program's exit or signal, or a kill from
// outside (time limit, cancel, OOM).
Result<void> record_ending(RunOutcome& outcome, const SupervisionResult& supervised,
                           const RunSpec& spec) {
  outcome.timed_out = supervised.timed_out;
  outcome.cancelled = supervised.cancelled;
  outcome.duration = supervised.duration;
  outcome.usage.wall_ms = supervised.duration.count();
  if (has_setup_phase(spec) && !supervised.setup_status && !outcome.cancelled &&
      !outcome.oom_killed) {
    outcome.setup_timed_out = outcome.timed_out;
    if (!outcome.timed_out) {
      return make_error("the sandbox's init ended without reporting the setup phase's status");
    }
    // The step that was running when the time ran out.
    if (supervised.setup_steps_reported < spec.setup_commands.size()) {
      outcome.setup_failed_command = supervised.setup_steps_reported;
    }
  }
  if (supervised.setup_status && *supervised.setup_status != 0) {
    const int status = *supervised.setup_status;
    outcome.setup_failed_exit = WIFEXITED(status)     ? WEXITSTATUS(status)
                                : WIFSIGNALED(status) ? 128 + WTERMSIG(status)
                                                      : 1;
    outcome.exit_code = *outcome.setup_failed_exit;
    if (supervised.setup_step < spec.setup_commands.size()) {
      outcome.setup_failed_command = supervised.setup_step;
    }
    return ok();
  }
  if (supervised.wait_status && !outcome.timed_out && !outcome.cancelled) {
    const int status = *supervised.wait_status;
    if (WIFEXITED(status)) {
      outcome.exit_code = WEXITSTATUS(status);
    } else if (WIFSIGNALED(status)) {
      outcome.term_signal = WTERMSIG(status);
      outcome.exit_code = 128 + outcome.term_signal;
    }
  } else if (outcome.timed_out || outcome.cancelled || outcome.oom_killed) {
    // Killed from outside, or the OOM killer took init along with the program.
    outcome.term_signal = SIGKILL;
    outcome.exit_code = 128 + SIGKILL;
  } else {
    return make_error("the sandbox's init ended without reporting the program's exit status");
  }
  return ok();
}

}  // namespace

Result<RunOutcome> NativeBackend::run(const RunSpec& spec, OutputSink& sink,
                                      const RunControl& control) {
  // Step 1b (filtered mode): the sandbox's network and proxy on the host. Declared before the
  // sandbox, so that they outlive it.
  SpawnExtras extras;
  std::unique_ptr<FilteredRun> filtered;
  if (spec.network == NetworkMode::kFiltered) {
    auto started = filtered_.start(spec, extras);
    if (!started) return std::move(started).error();
    filtered = std::move(started).value();
  }

  // Step 2: everything the child needs, before it exists.
  auto plan = SpawnPlan::create(spec, settings_, seccomp_ ? &*seccomp_ : nullptr, extras);
  if (!plan) return std::move(plan).error().context("while preparing the sandbox");

  trace::mark("native: spawn plan");
  // Step 4: stdio pipes and the sync socket.
  auto pipes = RunPipes::create(has_setup_phase(spec));
  if (!pipes) return std::move(pipes).error();
  pipes->give_child_ends((*plan)->child());

  // Step 3: the cgroup, before the child exists. Declared before the sandbox so that it is
  // destroyed after it: the sandbox's processes are gone before the cgroup is removed.
  auto made = make_cgroup(spec.limits);
  if (!made) return std::move(made).error();
  std::unique_ptr<Cgroup> cgroup = std::move(made).value();
  // Before the program starts, so that the warning never lands inside its streamed output.
  warn_unenforced_limits(cgroup.get());

  // Steps 5, 7 and 8: the child, its cgroup, its id maps, and "go".
  const int cgroup_fd = cgroup ? cgroup->clone_into_fd() : -1;
  spdlog::debug("native: clone3 flags={:#x} cgroup={} argv0={} root={}", (*plan)->clone_flags(),
                cgroup ? cgroup->name() : "none", spec.argv.at(0),
                spec.root_dir.empty() ? "host" : spec.root_dir);
  auto sandbox = clone_sandbox(**plan, *pipes, cgroup_fd, filtered ? filtered->netns_fd() : -1);
  if (!sandbox) return std::move(sandbox).error();
  ISOL8_TRY(release_sandbox(*sandbox, cgroup.get(), cgroup_fd >= 0, **plan));

  // Step 12.
  std::vector<std::chrono::milliseconds> setup_timeouts;
  for (const SetupCommand& command : spec.setup_commands) {
    setup_timeouts.push_back(command.timeout.count() > 0 ? command.timeout : spec.timeout);
  }
  if (!spec.setup_script.empty()) setup_timeouts.push_back(spec.timeout);
  SupervisionResult supervised =
      supervise(*sandbox, spec.stdin_data, setup_timeouts, spec.timeout, sink, control);
  trace::mark("native: sandbox exited, output drained");
  if (supervised.failure) return make_error(describe_failure(*supervised.failure, spec));

  RunOutcome outcome;
  if (filtered) {
    if (spec.log_network) outcome.network_logs = filtered->take_logs();
    // init has exited, so the kernel is ending the rest of the sandbox: its network goes now.
    filtered_.retire(std::move(filtered));
  }
  record_usage(outcome, *sandbox, cgroup.get());
  ISOL8_TRY(record_ending(outcome, supervised, spec));
  return outcome;
}

// What the run consumed (from its cgroup when there is one, else init's rusage) and which
// limits held; the first run whose limits were not all enforced warns.
void NativeBackend::record_usage(RunOutcome& outcome, const SandboxProcess& sandbox,
                                 Cgroup* cgroup) {
  const struct rusage& ru = sandbox.usage();
  outcome.usage.cpu_user_ms = ru.ru_utime.tv_sec * 1000 + ru.ru_utime.tv_usec / 1000;
  outcome.usage.cpu_system_ms = ru.ru_stime.tv_sec * 1000 + ru.ru_stime.tv_usec / 1000;
  outcome.usage.peak_memory_bytes = static_cast<uint64_t>(ru.ru_maxrss) * 1024;
  outcome.limits.not_enforced = unenforced_limits(cgroup);
  if (cgroup) {
    outcome.limits.enforced = cgroup->enforced();
    if (auto usage = cgroup->usage(); usage) {
      outcome.oom_killed = usage->oom_killed;
      outcome.usage.cpu_user_ms = static_cast<int64_t>(usage->cpu_user_usec / 1000);
      outcome.usage.cpu_system_ms = static_cast<int64_t>(usage->cpu_system_usec / 1000);
      if (usage->memory_peak_bytes > 0) outcome.usage.peak_memory_bytes = usage->memory_peak_bytes;
    } else {
      spdlog::warn("cannot read the sandbox's cgroup usage: {}", usage.error().message);
    }
  }
}

std::vector<std::string> NativeBackend::unenforced_limits(const Cgroup* cgroup) {
  std::vector<std::string> names = {"memory", "cpu", "pids"};
  if (cgroup) {
    const auto enforced = cgroup->enforced();
    std::erase_if(names, [&](const std::string& name) {
      return std::find(enforced.begin(), enforced.end(), name) != enforced.end();
    });
  }
  return names;
}

void NativeBackend::warn_unenforced_limits(const Cgroup* cgroup) {
  const auto names = unenforced_limits(cgroup);
  if (names.empty() || warned_limits_.exchange(true)) return;
  spdlog::warn("these limits are NOT enforced on this host: {} (cgroups: {}); see isol8 doctor",
               fmt::join(names, ", "), cgroups_->kind());
}

NativeBackend::NativeBackend(NativeSettings settings, std::unique_ptr<CgroupManager> cgroups,
                             std::optional<SeccompProgram> seccomp, NetworkSettings network)
    : settings_(std::move(settings)),
      filtered_(std::move(network.network), std::move(network.proxy_starter),
                network.mode == FilteredMode::kRelay, network.relay_fallback),
      cgroups_(std::move(cgroups)),
      seccomp_(std::move(seccomp)) {
  uint32_t token = 0;
  while (::getrandom(&token, sizeof token, 0) != sizeof token) {
  }
  instance_ = fmt::format("{:08x}", token);
}

Result<std::unique_ptr<Cgroup>> NativeBackend::make_cgroup(const ResourceLimits& limits) {
  CgroupLimits wanted;
  wanted.memory_bytes = limits.memory_bytes;
  wanted.pids_max = limits.pids;
  wanted.cpus = limits.cpus;
  auto cgroup = cgroups_->create(fmt::format("{}-{}", instance_, ++runs_), wanted);
  if (cgroup) return std::move(cgroup).value();
  // The manager said these limits can be applied on this host; failing to apply them now is an
  // error, not a reason to run without them. (Hosts that cannot apply them get the "none"
  // manager, whose runs go ahead with a warning.)
  return std::move(cgroup).error().context(
      "cannot create the sandbox's cgroup, so its memory, cpu and pids limits cannot be applied");
}

Result<std::unique_ptr<Backend>> make_native_backend(const NativeBackendConfig& config) {
  NativeSettings settings;
  std::string user_name;
  std::vector<char> buf(16384);
  struct passwd pw {};
  struct passwd* found = nullptr;
  if (::getpwuid_r(::geteuid(), &pw, buf.data(), buf.size(), &found) == 0 && found != nullptr) {
    user_name = found->pw_name;
  }
  settings.id_maps = plan_id_maps(config.id_map_base, ::geteuid(), ::getegid(), user_name,
                                  kSandboxUid, kSandboxGid);
  settings.hostname = config.hostname;
  locate_runner_args(settings);
  trace::mark("native: id maps planned");
  spdlog::debug("native: id map mode {} (uid {} -> host {})",
                static_cast<int>(settings.id_maps.mode), settings.id_maps.uids.inside,
                settings.id_maps.uids.outside);

  // A veth needs CAP_NET_ADMIN in the host's network namespace; root has it unless a container
  // took it away. Anyone else gets the relay.
  const bool veth = effective_filtered_mode(config.filtered_mode) == FilteredMode::kVeth;
  spdlog::debug("native: filtered networks use {}", veth ? "a veth" : "the relay");
  // The engine runs filtered by default: prepare the first network while the rest starts up.
  std::future<Result<std::unique_ptr<FilteredNetwork>>> first_network;
  FilteredNetworkConfig network_config;
  {
    auto pool = AddressPool::parse(config.network_pool);
    if (!pool) return std::move(pool).error().context("native.networkPool");
    network_config.pool = *pool;
    network_config.lock_dir = config.network_lock_dir;
    // Slot locks of dead runners (their tables and namespaces died with them).
    if (const size_t stale = SlotLock::reclaim_stale(config.network_lock_dir); stale > 0) {
      spdlog::debug("native: reclaimed {} network slots of dead runners", stale);
    }
    if (const size_t stale = RelayEndpoint::reclaim_stale(); stale > 0) {
      spdlog::debug("native: removed {} proxy directories of dead runners", stale);
    }
    if (config.prepare_filtered_network && config.proxy_starter && veth) {
      first_network = std::async(std::launch::async, [network_config] {
        return FilteredNetwork::prepare(network_config);
      });
    }
  }
  auto seccomp = load_seccomp_policy(config.seccomp_mode, config.custom_profile_path,
                                     installed_profiles_dir());
  if (!seccomp) return std::move(seccomp).error();
  if (!seccomp->has_value()) {
    spdlog::warn(
        "seccomp is unconfined (security.seccomp = \"unconfined\"): the sandbox can "
        "call every system call");
  }

  trace::mark("native: seccomp policy loaded");
  auto cgroups = detect_cgroup_manager();
  spdlog::debug("native: cgroup manager {}", cgroups->kind());
  if (auto reclaimed = cgroups->reclaim_stale(); !reclaimed) {
    spdlog::warn("could not remove cgroups left by a dead isol8: {}", reclaimed.error().message);
  } else if (*reclaimed > 0) {
    spdlog::debug("native: reclaimed {} cgroups of dead runners", *reclaimed);
  }
  trace::mark("native: cgroups detected, stale ones reclaimed");
  NetworkSettings network;
  network.network = network_config;
  network.proxy_starter = config.proxy_starter;
  network.mode = veth ? FilteredMode::kVeth : FilteredMode::kRelay;
  network.relay_fallback = veth && config.filtered_mode == FilteredMode::kAuto;
  auto backend = std::make_unique<NativeBackend>(std::move(settings), std::move(cgroups),
                                                 std::move(seccomp).value(), std::move(network));
  if (first_network.valid()) backend->adopt_spare(std::move(first_network));
  return std::unique_ptr<Backend>(std::move(backend));
}

}  // namespace isol8
