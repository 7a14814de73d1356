#include "backends/native/spawn_plan.h"

#include <linux/sched.h>
#include <sched.h>

#include "backends/native/setup_steps.h"
#include "common/fs_util.h"

namespace isol8 {
namespace {

std::vector<char*> pointers_to(std::vector<std::string>& strings) {
  std::vector<char*> out;
  out.reserve(strings.size() + 1);
  for (auto& s : strings) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

}  // namespace

Result<std::unique_ptr<SpawnPlan>> SpawnPlan::create(const RunSpec& spec,
                                                     const NativeSettings& settings,
                                                     const SeccompProgram* seccomp,
                                                     const SpawnExtras& extras) {
  std::unique_ptr<SpawnPlan> plan(new SpawnPlan());
  const bool host_network = spec.network == NetworkMode::kHost;
  const bool own_netns = !host_network && !extras.netns_from_parent;

  MountPlanInput mounts;
  mounts.root_dir = spec.root_dir;
  mounts.sandbox_size_bytes = spec.sandbox_size_bytes;
  mounts.tmp_size_bytes = spec.tmp_size_bytes;
  mounts.sandbox_uid = kSandboxUid;
  mounts.sandbox_gid = kSandboxGid;
  mounts.hostname = settings.hostname;
  mounts.host_network = host_network;
  if (host_network) {
    auto resolv = read_file("/etc/resolv.conf");
    if (resolv) mounts.host_resolv_conf = std::move(resolv).value();
  }
  plan->mounts_ = build_mount_plan(mounts);

  plan->argv_storage_ = spec.argv;
  plan->env_storage_ = spec.env;
  plan->env_storage_.insert(plan->env_storage_.end(), extras.env.begin(), extras.env.end());
  plan->argv_ = pointers_to(plan->argv_storage_);
  plan->envp_ = pointers_to(plan->env_storage_);
  plan->workdir_ = spec.workdir;
  plan->hostname_ = settings.hostname;

  plan->empty_caps_.reset(cap_init());
  if (!plan->empty_caps_) return errno_error("cap_init");

  plan->clone_flags_ = CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWIPC | CLONE_NEWUTS |
                       (own_netns ? CLONE_NEWNET : 0);  // cgroup ns: by the child, later
  plan->needs_parent_netns_ = !host_network && extras.netns_from_parent;
  plan->id_maps_ = settings.id_maps;

  ChildSpec& child = plan->child_;
  child.mounts = &plan->mounts_;
  child.hostname = plan->hostname_.c_str();
  child.bring_up_loopback = own_netns;
  child.report_mounted = extras.report_mounted;
  child.uid = kSandboxUid;
  child.gid = kSandboxGid;
  child.full_id_range = settings.id_maps.full_range();
  child.last_capability = static_cast<int>(cap_max_bits()) - 1;
  child.empty_caps = plan->empty_caps_.get();
  child.seccomp = seccomp != nullptr ? seccomp->fprog() : nullptr;
  child.runner_args_begin = settings.runner_args_begin;
  child.runner_args_size = settings.runner_args_size;
  child.workdir = plan->workdir_.c_str();
  if (spec.code_file) {
    plan->code_path_ = spec.code_file->path;
    child.code_path = plan->code_path_.c_str();
    child.code_data = spec.code_file->content.data();
    child.code_size = spec.code_file->content.size();
  }
  for (const CodeFile& f : spec.files) {
    plan->files_.push_back(
        ChildFile{f.path.c_str(), f.content.data(), f.content.size(), f.mode & 0777u});
  }
  child.files = plan->files_.data();
  child.file_count = plan->files_.size();
  for (SetupStepPlan& step : setup_step_plans(spec, plan->env_storage_)) {
    plan->setup_storage_.push_back(SetupStorage{std::move(step.argv), std::move(step.env), {}, {}});
  }
  for (SetupStorage& storage : plan->setup_storage_) {
    storage.argv_pointers = pointers_to(storage.argv);
    storage.env_pointers = pointers_to(storage.env);
    plan->setup_steps_.push_back(SetupStep{storage.argv.at(0).c_str(), storage.argv_pointers.data(),
                                           storage.env_pointers.data()});
  }
  child.setup_steps = plan->setup_steps_.data();
  child.setup_step_count = plan->setup_steps_.size();
  if (extras.relay_exe_fd >= 0) {
    plan->relay_argv_storage_ = {"isol8-relay", "--fd", std::to_string(kRelayListenFd),
                                 "/proc/self/fd/" + std::to_string(kProxySocketFd)};
    plan->relay_argv_ = pointers_to(plan->relay_argv_storage_);
    child.relay_exe_fd = extras.relay_exe_fd;
    child.proxy_socket_fd = extras.proxy_socket_fd;
    child.relay_port = extras.relay_port;
    child.relay_argv = plan->relay_argv_.data();
  }
  child.exec_path = plan->argv_storage_.at(0).c_str();
  child.argv = plan->argv_.data();
  child.envp = plan->envp_.data();
  return plan;
}

}  // namespace isol8
