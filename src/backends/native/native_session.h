#pragma once
// A persistent native sandbox (Backend::open_session): made like a one-shot run's sandbox (the
// same namespaces, mounts, cgroup limits, seccomp and network), but its init runs no program; it
// serves commands on its control socket (child_session.h): each execution runs in a keeper that
// init forks, and file transfers open files as the sandbox user beneath /sandbox or /tmp and
// hand the descriptor to the runner, which reads or writes it. No runner thread ever enters the
// sandbox's namespaces.

#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "backends/backend.h"
#include "backends/native/filtered_host_side.h"
#include "backends/native/sandbox_process.h"
#include "cgroups/cgroup_manager.h"
#include "common/unique_fd.h"

namespace isol8 {

class NativeBackend;

class NativeSession final : public Session {
 public:
  static Result<std::unique_ptr<Session>> open(NativeBackend& backend, const RunSpec& spec);
  // Kills the sandbox (its init, so the whole pid namespace), then removes its cgroup and
  // retires its network (in the background, as a one-shot run's); nothing once it is kept.
  ~NativeSession() override;

  const std::string& id() const override { return id_; }
  Result<RunOutcome> run(const RunSpec& spec, OutputSink& sink, const RunControl& control) override;
  Result<void> put_file(const std::string& path, std::string_view content, uint32_t mode) override;
  Result<std::string> get_file(const std::string& path, uint64_t max_bytes) override;
  // Tells init to outlive the runner for `lifetime` (kDetach), gives the cgroup to init
  // (Cgroup::hand_over) and lets the sandbox go: the destructor then leaves it running.
  Result<std::string> keep(std::chrono::seconds lifetime) override;

 private:
  explicit NativeSession(NativeBackend& backend) : backend_(backend) {}
  // The file opened by init for a transfer, or the reason it was refused.
  Result<UniqueFd> open_file(const std::string& path, bool write, uint32_t mode);
  Result<void> check_usable() const;
  void give_up(const std::string& why);
  void fill_usage(RunOutcome& outcome, int64_t max_rss_kb);

  NativeBackend& backend_;
  std::string id_;
  // Destroyed in this order by the destructor: sandbox, cgroup, network.
  std::unique_ptr<FilteredRun> filtered_;
  std::unique_ptr<Cgroup> cgroup_;
  std::optional<SandboxProcess> sandbox_;
  std::vector<std::string> extra_env_;  // the filtered mode's proxy environment
  uint64_t pids_limit_ = 0;
  uint64_t sandbox_size_ = 0;
  uint64_t tmp_size_ = 0;
  std::string lost_;   // why the sandbox can no longer be used; empty while it can
  bool kept_ = false;  // keep(): the sandbox is no longer ours to remove
  std::mutex mutex_;
};

}  // namespace isol8
