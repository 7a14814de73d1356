#include "backends/native/sandbox_spawn.h"

#include <fcntl.h>
#include <sched.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>

#include <spdlog/spdlog.h>

#include "namespaces/clone.h"

namespace isol8 {

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

std::string describe_failure(const ChildMessage& msg, const RunSpec& spec) {
  const auto step = static_cast<ChildStep>(msg.step);
  std::string text = std::string("sandbox setup failed while ") + child_step_name(step) + ": " +
                     std::strerror(msg.error);
  if (step == ChildStep::kExec) text += " (" + spec.argv.at(0) + ")";
  if (step == ChildStep::kWorkdir) text += " (" + spec.workdir + ")";
  return text;
}

// Step 5: the child starts in its new namespaces (and, on v2, in its cgroup) and waits.
// With a veth network (`netns_fd`): setns() for network namespaces is per thread, so this thread
// enters the prepared namespace, clones (the child inherits it instead of getting a new one) and
// goes back. The child cannot setns itself: after CLONE_NEWUSER it has no rights over the host's
// namespaces.
Result<SandboxProcess> clone_sandbox(SpawnPlan& plan, RunPipes& pipes, int cgroup_fd,
                                     int netns_fd) {
  // Without CLONE_NEWNET and without a namespace to enter, the child would share the host's.
  if (plan.needs_parent_netns() && netns_fd < 0) {
    return make_error(
        "the sandbox's network namespace was not prepared (refusing to run it in "
        "the host's)");
  }
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
Result<CgroupEntry> CgroupEntry::prepare(Cgroup* cgroup, SpawnPlan& plan) {
  CgroupEntry entry;
  if (cgroup == nullptr) return entry;
  entry.clone_into_fd_ = cgroup->clone_into_fd();
  if (entry.clone_into_fd_ >= 0) return entry;
  auto files = cgroup->open_self_join_files();
  if (!files) {
    // Still correct, only slower: release_sandbox moves the child.
    spdlog::debug("native: the child cannot move itself into its cgroup: {}",
                  files.error().message);
    return entry;
  }
  entry.join_files_ = std::move(files).value();
  for (const UniqueFd& fd : entry.join_files_) entry.join_fds_.push_back(fd.get());
  plan.child().cgroup_join_fds = entry.join_fds_.data();
  plan.child().cgroup_join_count = entry.join_fds_.size();
  return entry;
}

Result<void> release_sandbox(SandboxProcess& sandbox, Cgroup* cgroup, bool placed,
                             const SpawnPlan& plan) {
  if (cgroup && !placed) {
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

}  // namespace isol8
