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
#include <spdlog/spdlog.h>

#include <iterator>
#include <sstream>

#include "backends/native/sandbox_process.h"
#include "backends/native/supervisor.h"
#include "common/fs_util.h"
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

}  // namespace

// Members are destroyed in reverse order: the proxy stops (and removes its socket) before the
// relay endpoint's directory goes and before the network slot is released.
struct NativeBackend::FilteredRun {
  std::unique_ptr<FilteredNetwork> network;
  std::unique_ptr<RelayEndpoint> relay;
  std::unique_ptr<RunProxy> proxy;
};

namespace {

void add_proxy_env(const std::string& url, SpawnExtras& extras) {
  for (const char* name : {"HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"}) {
    extras.env.push_back(fmt::format("{}={}", name, url));
  }
  extras.env.emplace_back("NO_PROXY=localhost,127.0.0.1");
  extras.env.emplace_back("no_proxy=localhost,127.0.0.1");
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

Result<FilteredMode> parse_filtered_mode(std::string_view text) {
  if (text == "auto") return FilteredMode::kAuto;
  if (text == "veth") return FilteredMode::kVeth;
  if (text == "relay") return FilteredMode::kRelay;
  return make_error(fmt::format(
      "native.filteredMode: invalid value \"{}\". Expected one of: auto, veth, relay", text));
}

FilteredMode effective_filtered_mode(FilteredMode configured) {
  if (configured != FilteredMode::kAuto) return configured;
  return ::geteuid() == 0 && has_effective_net_admin() ? FilteredMode::kVeth : FilteredMode::kRelay;
}

Result<void> NativeBackend::start_filtered(const RunSpec& spec, FilteredRun& run,
                                           SpawnExtras& extras) {
  if (!network_.proxy_starter) {
    return make_error(
        "Network mode \"filtered\" needs the filtering proxy, which this build of isol8 does "
        "not include; use \"none\" or \"host\"");
  }
  if (use_relay_) return start_relay(spec, run, extras);
  auto network = take_network();
  if (!network && network_.relay_fallback) {
    // No veth here after all (no veth support, a user namespace without rights on the host's
    // network): the relay needs none, and the proxy filters the same way.
    spdlog::debug("native: no veth for the filtered network ({}); using the relay from now on",
                  network.error().message);
    use_relay_ = true;
    return start_relay(spec, run, extras);
  }
  if (!network) {
    return std::move(network).error().context(
        "cannot set up the filtered network's veth (it needs CAP_NET_ADMIN; without it, "
        "native.filteredMode \"relay\" or \"auto\" uses the relay)");
  }
  run.network = std::move(network).value();
  ProxyListen listen;
  listen.tcp_address = run.network->proxy_address();
  listen.tcp_port = run.network->proxy_port();
  auto proxy = network_.proxy_starter(spec.network_filter, spec.log_network, listen);
  if (!proxy) return std::move(proxy).error().context("cannot start the filtering proxy");
  run.proxy = std::move(proxy).value();
  add_proxy_env(
      fmt::format("http://{}:{}", run.network->proxy_address(), run.network->proxy_port()), extras);
  extras.netns_from_parent = true;
  return ok();
}

Result<void> NativeBackend::start_relay(const RunSpec& spec, FilteredRun& run,
                                        SpawnExtras& extras) {
  auto endpoint = RelayEndpoint::create();
  if (!endpoint) return std::move(endpoint).error().context("cannot set up the filtered network");
  run.relay = std::move(endpoint).value();
  ProxyListen listen;
  listen.unix_path = run.relay->socket_path();
  auto proxy = network_.proxy_starter(spec.network_filter, spec.log_network, listen);
  if (!proxy) return std::move(proxy).error().context("cannot start the filtering proxy");
  run.proxy = std::move(proxy).value();
  if (auto opened = run.relay->open_socket(); !opened) {
    return std::move(opened).error().context("cannot reach the filtering proxy's socket");
  }
  add_proxy_env(fmt::format("http://127.0.0.1:{}", RelayEndpoint::kPort), extras);
  extras.relay_exe_fd = run.relay->relay_exe_fd();
  extras.proxy_socket_fd = run.relay->socket_fd();
  extras.relay_port = RelayEndpoint::kPort;
  return ok();
}

void NativeBackend::prepare_spare_locked() {
  spare_ = std::async(std::launch::async,
                      [config = network_.network] { return FilteredNetwork::prepare(config); });
}

Result<std::unique_ptr<FilteredNetwork>> NativeBackend::take_network() {
  std::future<Result<std::unique_ptr<FilteredNetwork>>> taken;
  {
    std::lock_guard lock(network_mutex_);
    if (!spare_.valid()) prepare_spare_locked();
    taken = std::move(spare_);
    // From the second filtered run on, the caller evidently runs more: keep one ready. (A
    // one-shot CLI run would only pay for a spare it never uses.)
    if (++filtered_runs_ > 1) prepare_spare_locked();
  }
  return taken.get();
}

void NativeBackend::retire(std::unique_ptr<FilteredRun> run) {
  std::lock_guard lock(network_mutex_);
  if (!retirer_.joinable()) {
    retirer_ = std::thread([this] {
      std::unique_lock lock(network_mutex_);
      for (;;) {
        retire_cv_.wait(lock, [this] { return stopping_ || !retire_queue_.empty(); });
        if (retire_queue_.empty()) return;  // stopping, and nothing left to tear down
        auto next = std::move(retire_queue_.front());
        retire_queue_.pop_front();
        lock.unlock();
        next.reset();
        lock.lock();
      }
    });
  }
  retire_queue_.push_back(std::move(run));
  retire_cv_.notify_one();
}

NativeBackend::~NativeBackend() {
  {
    std::lock_guard lock(network_mutex_);
    stopping_ = true;
    retire_cv_.notify_one();
  }
  if (retirer_.joinable()) retirer_.join();
  if (spare_.valid()) (void)spare_.get();
}

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

Result<RunOutcome> NativeBackend::run(const RunSpec& spec, OutputSink& sink,
                                      const RunControl& control) {
  // Step 1b (filtered mode): the sandbox's network namespace, firewall table and proxy. Declared
  // before the sandbox, so that they outlive it.
  auto filtered_run = std::make_unique<FilteredRun>();
  FilteredRun& filtered = *filtered_run;
  SpawnExtras extras;
  if (spec.network == NetworkMode::kFiltered) {
    if (auto started = start_filtered(spec, filtered, extras); !started) {
      return std::move(started).error();
    }
  }

  // Step 2: everything the child needs, before it exists.
  auto plan = SpawnPlan::create(spec, settings_, seccomp_ ? &*seccomp_ : nullptr, extras);
  if (!plan) return std::move(plan).error().context("while preparing the sandbox");

  // Step 4: stdio pipes and the sync socket.
  auto in = make_pipe();
  auto out = make_pipe();
  auto err = make_pipe();
  auto sync = make_sync_socket();
  if (!in) return std::move(in).error();
  if (!out) return std::move(out).error();
  if (!err) return std::move(err).error();
  if (!sync) return std::move(sync).error();
  ::fcntl(in->write.get(), F_SETFL, O_NONBLOCK);
  // A larger stdout pipe means fewer wake-ups for chatty programs; failure only costs speed.
  ::fcntl(out->read.get(), F_SETPIPE_SZ, 1 << 20);

  ChildSpec& child = (*plan)->child();
  child.stdin_fd = in->read.get();
  child.stdout_fd = out->write.get();
  child.stderr_fd = err->write.get();
  child.sync_fd = sync->write.get();
  // The setup phase's output has pipes of its own, so that its phase is never mistaken.
  std::optional<PipePair> setup_out, setup_err;
  if (!spec.setup_script.empty()) {
    auto o = make_pipe();
    auto e = make_pipe();
    if (!o) return std::move(o).error();
    if (!e) return std::move(e).error();
    setup_out = std::move(o).value();
    setup_err = std::move(e).value();
    child.setup_stdout_fd = setup_out->write.get();
    child.setup_stderr_fd = setup_err->write.get();
  }

  // Step 3: the cgroup, before the child exists. Declared before the sandbox so that it is
  // destroyed after it: the sandbox's processes are gone before the cgroup is removed.
  auto made = make_cgroup(spec.limits);
  if (!made) return std::move(made).error();
  std::unique_ptr<Cgroup> cgroup = std::move(made).value();

  // Step 5: the child starts in its new namespaces (and, on v2, in its cgroup) and waits.
  const int cgroup_fd = cgroup ? cgroup->clone_into_fd() : -1;
  spdlog::debug("native: clone3 flags={:#x} cgroup={} argv0={} root={}", (*plan)->clone_flags(),
                cgroup ? cgroup->name() : "none", spec.argv.at(0),
                spec.root_dir.empty() ? "host" : spec.root_dir);
  // Filtered: setns() for network namespaces is per thread, so this thread enters the prepared
  // namespace, clones (the child inherits it instead of getting a new one) and goes back. The
  // child cannot setns itself: after CLONE_NEWUSER it has no rights over the host's namespaces.
  UniqueFd home_netns;
  if (filtered.network) {
    home_netns.reset(::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC));
    if (!home_netns) return errno_error("open /proc/thread-self/ns/net");
    if (::setns(filtered.network->netns_fd(), CLONE_NEWNET) != 0) {
      return errno_error("setns into the sandbox's network namespace");
    }
  }
  auto cloned = clone_with_pidfd((*plan)->clone_flags(), cgroup_fd);
  if (cloned && cloned->pid == 0) run_sandbox_init(child);
  // A runner thread left in the sandbox's namespace would put its later sockets there.
  if (home_netns && ::setns(home_netns.get(), CLONE_NEWNET) != 0) std::abort();
  if (!cloned) return std::move(cloned).error().context("while creating the sandbox namespaces");

  SandboxPipes pipes;
  pipes.stdin_write = std::move(in->write);
  pipes.stdout_read = std::move(out->read);
  pipes.stderr_read = std::move(err->read);
  pipes.sync = std::move(sync->read);
  if (setup_out) {
    pipes.setup_stdout_read = std::move(setup_out->read);
    pipes.setup_stderr_read = std::move(setup_err->read);
    setup_out->write.reset();
    setup_err->write.reset();
  }
  SandboxProcess sandbox(cloned->pid, std::move(cloned->pidfd), std::move(pipes));
  in->read.reset();
  out->write.reset();
  err->write.reset();
  sync->write.reset();

  // Step 5 on cgroup v1: move the waiting child into its cgroup before it runs anything.
  if (cgroup && cgroup_fd < 0) {
    if (auto added = cgroup->add_process(sandbox.pid()); !added) {
      return std::move(added).error().context("while moving the sandbox into its cgroup");
    }
  }

  // Step 7: the id maps; step 8: "go".
  if (auto mapped = apply_id_maps(sandbox.pid(), (*plan)->id_maps()); !mapped) {
    return std::move(mapped).error().context("while writing the sandbox's uid/gid maps");
  }
  const char go = 'g';
  if (::send(sandbox.pipes().sync.get(), &go, 1, MSG_NOSIGNAL) != 1) {
    return errno_error("while starting the sandbox");
  }

  // Step 12.
  SupervisionResult supervised = supervise(sandbox, spec.stdin_data, spec.timeout, sink, control);
  if (supervised.failure) return make_error(describe_failure(*supervised.failure, spec));

  RunOutcome outcome;
  if (filtered.proxy && spec.log_network) outcome.network_logs = filtered.proxy->take_logs();
  // init has exited, so the kernel is ending the rest of the sandbox: its network goes now.
  if (filtered.network) retire(std::move(filtered_run));
  const struct rusage& ru = sandbox.usage();
  outcome.usage.wall_ms = supervised.duration.count();
  outcome.usage.cpu_user_ms = ru.ru_utime.tv_sec * 1000 + ru.ru_utime.tv_usec / 1000;
  outcome.usage.cpu_system_ms = ru.ru_stime.tv_sec * 1000 + ru.ru_stime.tv_usec / 1000;
  outcome.usage.peak_memory_bytes = static_cast<uint64_t>(ru.ru_maxrss) * 1024;
  outcome.limits.not_enforced = {"memory", "cpu", "pids"};
  if (cgroup) {
    outcome.limits.enforced = cgroup->enforced();
    std::erase_if(outcome.limits.not_enforced, [&](const std::string& name) {
      return std::find(outcome.limits.enforced.begin(), outcome.limits.enforced.end(), name) !=
             outcome.limits.enforced.end();
    });
    if (auto usage = cgroup->usage(); usage) {
      outcome.oom_killed = usage->oom_killed;
      outcome.usage.cpu_user_ms = static_cast<int64_t>(usage->cpu_user_usec / 1000);
      outcome.usage.cpu_system_ms = static_cast<int64_t>(usage->cpu_system_usec / 1000);
      if (usage->memory_peak_bytes > 0) outcome.usage.peak_memory_bytes = usage->memory_peak_bytes;
    } else {
      spdlog::warn("cannot read the sandbox's cgroup usage: {}", usage.error().message);
    }
  }
  if (!outcome.limits.not_enforced.empty() && !warned_limits_.exchange(true)) {
    std::string names;
    for (const auto& n : outcome.limits.not_enforced) names += (names.empty() ? "" : ", ") + n;
    spdlog::warn("these limits are NOT enforced on this host: {} (cgroups: {}); see isol8 doctor",
                 names, cgroups_->kind());
  }
  outcome.timed_out = supervised.timed_out;
  outcome.cancelled = supervised.cancelled;
  outcome.duration = supervised.duration;
  const bool has_setup = !spec.setup_script.empty();
  if (has_setup && !supervised.setup_status && !outcome.cancelled && !outcome.oom_killed) {
    outcome.setup_timed_out = outcome.timed_out;
    if (!outcome.timed_out) {
      return make_error("the sandbox's init ended without reporting the setup script's status");
    }
  }
  if (supervised.setup_status && *supervised.setup_status != 0) {
    const int status = *supervised.setup_status;
    outcome.setup_failed_exit = WIFEXITED(status)     ? WEXITSTATUS(status)
                                : WIFSIGNALED(status) ? 128 + WTERMSIG(status)
                                                      : 1;
    outcome.exit_code = *outcome.setup_failed_exit;
    return outcome;
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
  return outcome;
}

NativeBackend::NativeBackend(NativeSettings settings, std::unique_ptr<CgroupManager> cgroups,
                             std::optional<SeccompProgram> seccomp, NetworkSettings network)
    : settings_(std::move(settings)),
      network_(std::move(network)),
      cgroups_(std::move(cgroups)),
      seccomp_(std::move(seccomp)) {
  use_relay_ = network_.mode == FilteredMode::kRelay;
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
  auto mode = parse_seccomp_mode(config.seccomp_mode);
  if (!mode) return std::move(mode).error();
  auto seccomp = load_seccomp_policy(*mode, config.custom_profile_path, installed_profiles_dir());
  if (!seccomp) return std::move(seccomp).error();
  if (!seccomp->has_value()) {
    spdlog::warn(
        "seccomp is unconfined (security.seccomp = \"unconfined\"): the sandbox can "
        "call every system call");
  }

  auto cgroups = detect_cgroup_manager();
  spdlog::debug("native: cgroup manager {}", cgroups->kind());
  if (auto reclaimed = cgroups->reclaim_stale(); !reclaimed) {
    spdlog::warn("could not remove cgroups left by a dead isol8: {}", reclaimed.error().message);
  } else if (*reclaimed > 0) {
    spdlog::debug("native: reclaimed {} cgroups of dead runners", *reclaimed);
  }
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
