#pragma once
// The pieces of a native sandbox's start shared by one-shot runs (NativeBackend::run) and
// sessions (NativeSession): the stdio pipes and sync socket, the clone into the namespaces, the
// release ("go"), and how an ending is read from the supervision's result.

#include <fcntl.h>

#include <optional>
#include <string>
#include <vector>

#include "backends/backend.h"
#include "backends/native/sandbox_process.h"
#include "backends/native/spawn_plan.h"
#include "backends/native/supervisor.h"
#include "cgroups/cgroup_manager.h"
#include "common/unique_fd.h"
#include "isol8/result.h"
#include "namespaces/child_report.h"

namespace isol8 {

struct PipePair {
  UniqueFd read;
  UniqueFd write;
};

Result<PipePair> make_pipe();
Result<PipePair> make_sync_socket();

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

// How the child gets into its cgroup: cloned into it (v2), moving itself in (v1: the `tasks`
// files handed to it in the plan, see ChildSpec::cgroup_join_fds), or moved by release_sandbox
// (a v1 cgroup whose files could not be opened). Keep it until the clone has happened.
class CgroupEntry {
 public:
  // Fills the plan's child spec; `cgroup` may be null (no cgroup).
  static Result<CgroupEntry> prepare(Cgroup* cgroup, SpawnPlan& plan);
  int clone_into_fd() const { return clone_into_fd_; }
  // Whether the child ends up in the cgroup without release_sandbox moving it.
  bool placed() const { return clone_into_fd_ >= 0 || !join_fds_.empty(); }

 private:
  int clone_into_fd_ = -1;
  std::vector<UniqueFd> join_files_;
  std::vector<int> join_fds_;
};

// Step 5: the child starts in its new namespaces (and, on v2, in its cgroup) and waits.
// With a veth network (`netns_fd`) the child is cloned into that prepared namespace.
Result<SandboxProcess> clone_sandbox(SpawnPlan& plan, RunPipes& pipes, int cgroup_fd, int netns_fd);

// Step 5 on cgroup v1 when the child was not placed (CgroupEntry), step 7 (the id maps) and
// step 8 ("go").
Result<void> release_sandbox(SandboxProcess& sandbox, Cgroup* cgroup, bool placed,
                             const SpawnPlan& plan);

// How the run ended: the setup script's failure, the program's exit or signal, or a kill from
// outside (time limit, cancel, OOM).
Result<void> record_ending(RunOutcome& outcome, const SupervisionResult& supervised,
                           const RunSpec& spec);

// A failed step of the child as a message naming the step.
std::string describe_failure(const ChildMessage& msg, const RunSpec& spec);

}  // namespace isol8
