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
#include "backends/native/sandbox_spawn.h"
#include "backends/native/setup_steps.h"
#include "backends/native/supervisor.h"
#include "common/companion_binaries.h"
#include "common/fs_util.h"
#include "common/trace.h"
#include "namespaces/child_report.h"
#include "namespaces/clone.h"
#include "seccomp/policy.h"

namespace isol8 {
namespace {

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

bool has_effective_capability(cap_value_t capability) {
  cap_t caps = cap_get_proc();
  if (caps == nullptr) return false;
  cap_flag_value_t value = CAP_CLEAR;
  const bool got = cap_get_flag(caps, capability, CAP_EFFECTIVE, &value) == 0;
  cap_free(caps);
  return got && value == CAP_SET;
}

}  // namespace

FilteredMode effective_filtered_mode(FilteredMode configured) {
  if (configured != FilteredMode::kAuto) return configured;
  return ::geteuid() == 0 && has_effective_capability(CAP_NET_ADMIN) ? FilteredMode::kVeth
                                                                     : FilteredMode::kRelay;
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

Result<RunOutcome> NativeBackend::run(const RunSpec& spec, OutputSink& sink,
                                      const RunControl& control) {
  // A prepared sandbox of this shape, when the pool has one: the run only hands it the program.
  if (pool_) {
    if (std::unique_ptr<Session> pooled = pool_->take(spec)) {
      trace::mark("native: pooled sandbox taken");
      auto outcome = pooled->run(spec, sink, control);
      pool_->retire(std::move(pooled));  // used once, never again
      return outcome;
    }
  }
  // Step 1b (filtered mode): the sandbox's network and proxy on the host. Declared before the
  // sandbox, so that they outlive it.
  SpawnExtras extras;
  std::unique_ptr<FilteredRun> filtered;
  if (spec.network == NetworkMode::kFiltered) {
    auto started = filtered_.start(spec, extras);
    if (!started) return std::move(started).error();
    filtered = std::move(started).value();
  }
  // Declared before the sandbox too: its namespace is the sandbox's. The relay's sandbox has a
  // loopback-only namespace too (its relay listens on 127.0.0.1 inside).
  std::optional<NetnsSlot> netns_slot;
  const bool loopback_only = spec.network == NetworkMode::kNone || extras.relay_exe_fd >= 0;
  if (loopback_only && netns_slots_ > 0) {
    netns_slot = claim_netns_slot();
    extras.netns_from_parent = netns_slot && netns_slot->prepared() >= 0;
    extras.report_mounted = netns_slot.has_value();
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
  auto made = make_cgroup(next_sandbox_name(), spec.limits, /*one_run=*/true);
  if (!made) return std::move(made).error();
  std::unique_ptr<Cgroup> cgroup = std::move(made).value();
  // Before the program starts, so that the warning never lands inside its streamed output.
  warn_unenforced_limits(cgroup.get());

  // Steps 5, 7 and 8: the child, its cgroup, its id maps, and "go".
  auto entry = CgroupEntry::prepare(cgroup.get(), **plan);
  if (!entry) return std::move(entry).error();
  spdlog::debug("native: clone3 flags={:#x} cgroup={} argv0={} root={}", (*plan)->clone_flags(),
                cgroup ? cgroup->name() : "none", spec.argv.at(0),
                spec.root_dir.empty() ? "host" : spec.root_dir);
  // The namespace the parent prepared: the veth's, or one made ahead (the relay's sandbox has
  // no veth, so its FilteredRun has none to give).
  int netns_fd = filtered ? filtered->netns_fd() : -1;
  if (netns_fd < 0 && netns_slot) netns_fd = netns_slot->prepared();
  auto sandbox = clone_sandbox(**plan, *pipes, entry->clone_into_fd(), netns_fd);
  if (!sandbox) return std::move(sandbox).error();
  ISOL8_TRY(release_sandbox(*sandbox, cgroup.get(), entry->placed(), **plan));

  // Step 12.
  // Once init has reaped the program, the cgroup's counters hold the program's run: read them
  // while init ends the sandbox (a quarter of a millisecond: its namespaces and mounts) rather
  // than after. What the program left running is killed as init ends; what it does in between
  // is not counted.
  std::optional<Result<CgroupUsage>> usage;
  const auto read_usage = [&] {
    if (cgroup) usage = cgroup->usage();
  };
  SupervisionHooks hooks;
  hooks.on_program_exit = read_usage;
  // The namespace of the slot's next run, made while the program runs and this thread only
  // waits; not before the sandbox's root is built (see refill_in_background). A run that ends
  // before that refills as the slot is destroyed.
  if (netns_slot) {
    hooks.on_mounted = [&] {
      trace::mark("native: sandbox root built, next network namespace begun");
      netns_slot->refill_in_background();
    };
  }
  SupervisionResult supervised = supervise(*sandbox, spec.stdin_data, setup_step_timeouts(spec),
                                           spec.timeout, sink, control, hooks);
  trace::mark("native: sandbox exited, output drained");
  if (supervised.failure) return make_error(describe_failure(*supervised.failure, spec));

  RunOutcome outcome;
  if (filtered) {
    if (spec.log_network) outcome.network_logs = filtered->take_logs();
    // init has exited, so the kernel is ending the rest of the sandbox: its network goes now.
    filtered_.retire(std::move(filtered));
  }
  // A program killed by a signal may be the OOM killer's victim, whose count the kernel can
  // raise after the kill: read again now that the sandbox is gone.
  // And a memory reading that is not a peak (cgroup v2 before Linux 5.19) would still count
  // the sandbox's tmpfs files: read it once they are gone.
  const bool killed = supervised.wait_status && WIFSIGNALED(*supervised.wait_status);
  if (usage && (!*usage || (killed && !(*usage)->oom_killed) || !(*usage)->memory_is_peak)) {
    usage.reset();
  }
  record_usage(outcome, *sandbox, cgroup.get(), std::move(usage));
  ISOL8_TRY(record_ending(outcome, supervised, spec));
  return outcome;
}

std::optional<NetnsSlot> NativeBackend::claim_netns_slot() {
  auto claimed = NetnsSlot::claim(netns_slot_dir_, netns_slots_);
  if (!claimed) {
    spdlog::debug("native: no network namespace made ahead: {}", claimed.error().message);
    return std::nullopt;
  }
  if (*claimed && (*claimed)->prepared() >= 0) {
    trace::mark("native: network namespace made ahead taken");
  } else {
    trace::mark("native: network namespace slot claimed, none made ahead");
  }
  return std::move(claimed).value();
}

// What the run consumed (from its cgroup when it accounts for it, else init's rusage, which
// misses what init did not reap itself) and which limits held; the first run whose limits were
// not all enforced warns.
void NativeBackend::record_usage(RunOutcome& outcome, const SandboxProcess& sandbox, Cgroup* cgroup,
                                 std::optional<Result<CgroupUsage>> read) {
  const struct rusage& ru = sandbox.usage();
  outcome.usage.cpu_user_ms = ru.ru_utime.tv_sec * 1000 + ru.ru_utime.tv_usec / 1000;
  outcome.usage.cpu_system_ms = ru.ru_stime.tv_sec * 1000 + ru.ru_stime.tv_usec / 1000;
  outcome.usage.peak_memory_bytes = static_cast<uint64_t>(ru.ru_maxrss) * 1024;
  outcome.limits.not_enforced = unenforced_limits(cgroup);
  if (cgroup) {
    outcome.limits.enforced = cgroup->enforced();
    if (!read) read = cgroup->usage();
    if (auto& usage = *read; usage) {
      outcome.oom_killed = usage->oom_killed;
      outcome.pids_limit_hit = usage->pids_max_hits > 0;
      if (usage->cpu_measured) {
        outcome.usage.cpu_user_ms = static_cast<int64_t>(usage->cpu_user_usec / 1000);
        outcome.usage.cpu_system_ms = static_cast<int64_t>(usage->cpu_system_usec / 1000);
      }
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
      seccomp_(std::move(seccomp)),
      netns_slots_(network.netns_slots),
      netns_slot_dir_(std::move(network.netns_slot_dir)) {
  uint32_t token = 0;
  while (::getrandom(&token, sizeof token, 0) != sizeof token) {
  }
  instance_ = fmt::format("{:08x}", token);
}

Result<std::unique_ptr<Session>> NativeBackend::open_session(const RunSpec& spec) {
  return NativeSession::open(*this, spec);
}

void NativeBackend::enable_pool(size_t per_shape) {
  if (per_shape == 0) return;
  pool_ = std::make_unique<SandboxPool>(
      per_shape, [this](const RunSpec& shape) { return NativeSession::open(*this, shape); });
}

std::string NativeBackend::next_sandbox_name() { return fmt::format("{}-{}", instance_, ++runs_); }

Result<std::unique_ptr<Cgroup>> NativeBackend::make_cgroup(const std::string& name,
                                                           const ResourceLimits& limits,
                                                           bool one_run) {
  CgroupLimits wanted;
  wanted.memory_bytes = limits.memory_bytes;
  wanted.pids_max = limits.pids;
  wanted.cpus = limits.cpus;
  wanted.one_run = one_run;
  auto cgroup = cgroups_->create(name, wanted);
  if (cgroup) return std::move(cgroup).value();
  // The manager said these limits can be applied on this host; failing to apply them now is an
  // error, not a reason to run without them. (Hosts that cannot apply them get the "none"
  // manager, whose runs go ahead with a warning.)
  return std::move(cgroup).error().context(
      "cannot create the sandbox's cgroup, so its memory, cpu and pids limits cannot be applied");
}

Result<std::unique_ptr<Backend>> make_native_backend(const NativeBackendConfig& config) {
  NativeSettings settings;
  // The user's name finds its subordinate ids; root maps a fixed range and needs none (the NSS
  // lookup costs 50 microseconds of every run).
  std::string user_name;
  if (::geteuid() != 0) {
    std::vector<char> buf(16384);
    struct passwd pw {};
    struct passwd* found = nullptr;
    if (::getpwuid_r(::geteuid(), &pw, buf.data(), buf.size(), &found) == 0 && found != nullptr) {
      user_name = found->pw_name;
    }
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
    if (config.prepare_filtered_network && config.proxy_starter && veth) {
      first_network = std::async(std::launch::async, [network_config] {
        return FilteredNetwork::prepare(network_config);
      });
    }
  }
  // The installed profiles, else the profile embedded at build time.
  auto seccomp = load_seccomp_policy(config.seccomp_mode, config.custom_profile_path,
                                     installed_profiles_dir());
  if (!seccomp) return std::move(seccomp).error();
  if (!seccomp->has_value()) {
    spdlog::warn(
        "seccomp is unconfined (security.seccomp = \"unconfined\"): the sandbox can "
        "call every system call");
  }

  trace::mark("native: seccomp policy loaded");
  CgroupRoots roots;
  roots.slot_count = config.cgroup_slots;
  auto cgroups = detect_cgroup_manager(roots);
  spdlog::debug("native: cgroup manager {}", cgroups->kind());
  // Cgroups of dead runners. A one-shot run (with slots) first checks cheaply whether there are
  // any: its own cgroup is a slot, which a dead runner's next holder makes anew anyway.
  if (config.cgroup_slots == 0 || cgroups->may_have_stale()) {
    if (auto reclaimed = cgroups->reclaim_stale(); !reclaimed) {
      spdlog::warn("could not remove cgroups left by a dead isol8: {}", reclaimed.error().message);
    } else if (*reclaimed > 0) {
      spdlog::debug("native: reclaimed {} cgroups of dead runners", *reclaimed);
    }
  }
  trace::mark("native: cgroups detected, stale ones reclaimed");
  NetworkSettings network;
  network.network = network_config;
  network.proxy_starter = config.proxy_starter;
  network.mode = veth ? FilteredMode::kVeth : FilteredMode::kRelay;
  network.relay_fallback = veth && config.filtered_mode == FilteredMode::kAuto;
  // Made with unshare and kept with a bind mount: root with CAP_SYS_ADMIN only (a container's
  // root without it would start a thread that fails at every run).
  if (config.netns_slots > 0 && ::geteuid() == 0 && has_effective_capability(CAP_SYS_ADMIN)) {
    network.netns_slots = config.netns_slots;
  }
  network.netns_slot_dir = config.netns_slot_dir;
  auto backend = std::make_unique<NativeBackend>(std::move(settings), std::move(cgroups),
                                                 std::move(seccomp).value(), std::move(network));
  if (first_network.valid()) backend->adopt_spare(std::move(first_network));
  backend->enable_pool(config.pool_size);
  return std::unique_ptr<Backend>(std::move(backend));
}

}  // namespace isol8
