#include "namespaces/mount_plan.h"

#include <sys/mount.h>
#include <sys/stat.h>

#include <filesystem>
#include <system_error>

#include <fmt/format.h>

namespace isol8 {
namespace {

namespace fs = std::filesystem;

MountOp op(MountOpKind kind, std::string source, std::string target) {
  MountOp o;
  o.kind = kind;
  o.source = std::move(source);
  o.target = std::move(target);
  return o;
}
MountOp bind_ro(std::string source, std::string target) {
  return op(MountOpKind::kBindReadOnly, std::move(source), std::move(target));
}
MountOp bind(std::string source, std::string target) {
  return op(MountOpKind::kBind, std::move(source), std::move(target));
}
MountOp make_dir(std::string target) { return op(MountOpKind::kMkdir, "", std::move(target)); }
MountOp symlink_to(std::string link_target, std::string target) {
  return op(MountOpKind::kSymlink, std::move(link_target), std::move(target));
}
MountOp tmpfs(std::string target, unsigned long flags, std::string data) {
  MountOp o = op(MountOpKind::kTmpfs, "", std::move(target));
  o.flags = flags;
  o.data = std::move(data);
  return o;
}
MountOp write_file(std::string target, std::string content, mode_t mode) {
  MountOp o = op(MountOpKind::kWriteFile, "", std::move(target));
  o.content = std::move(content);
  o.mode = mode;
  return o;
}

std::string passwd_file(const MountPlanInput& in) {
  return fmt::format(
      "root:x:0:0:root:/root:/usr/sbin/nologin\n"
      "sandbox:x:{}:{}:sandbox:/sandbox:/bin/bash\n"
      "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n",
      in.sandbox_uid, in.sandbox_gid);
}

std::string group_file(const MountPlanInput& in) {
  return fmt::format("root:x:0:\nsandbox:x:{}:\nnogroup:x:65534:\n", in.sandbox_gid);
}

std::string hosts_file(const MountPlanInput& in) {
  return fmt::format("127.0.0.1\tlocalhost {0}\n::1\tlocalhost ip6-localhost ip6-loopback {0}\n",
                     in.hostname);
}

// Host mode: a small tmpfs root holding read-only binds of the system dirs and a generated /etc.
void add_host_root(const MountPlanInput& in, const std::string& stage, std::vector<MountOp>& ops) {
  ops.push_back(tmpfs(stage, MS_NOSUID | MS_NODEV, "size=4m,mode=0755"));
  for (const auto& dir : in.host_system_dirs) {
    const fs::path host_path = in.host_prefix + dir;
    std::error_code ec;
    auto status = fs::symlink_status(host_path, ec);
    if (ec) continue;  // absent on this host
    if (fs::is_symlink(status)) {
      ops.push_back(symlink_to(fs::read_symlink(host_path, ec).string(), stage + dir));
    } else if (fs::is_directory(status)) {
      ops.push_back(make_dir(stage + dir));
      ops.push_back(bind_ro(host_path.string(), stage + dir));
    }
  }
  const std::string etc = stage + "/etc";
  ops.push_back(make_dir(etc));
  ops.push_back(write_file(etc + "/passwd", passwd_file(in), 0644));
  ops.push_back(write_file(etc + "/group", group_file(in), 0644));
  ops.push_back(write_file(etc + "/hosts", hosts_file(in), 0644));
  ops.push_back(write_file(etc + "/hostname", in.hostname + "\n", 0644));
  ops.push_back(write_file(etc + "/nsswitch.conf",
                           "passwd: files\ngroup: files\nshadow: files\nhosts: files dns\n", 0644));
  ops.push_back(write_file(etc + "/resolv.conf",
                           in.host_network ? in.host_resolv_conf : std::string(), 0644));
  // Read-only pieces of the host's /etc that programs need and that hold no secrets: TLS roots
  // (certs only: /etc/ssl/private holds keys), the dynamic linker's cache, Debian's
  // alternatives symlinks.
  ops.push_back(make_dir(etc + "/ssl"));
  for (const char* dir : {"/etc/ssl/certs", "/etc/ca-certificates", "/etc/alternatives"}) {
    std::error_code ec;
    if (!fs::is_directory(in.host_prefix + dir, ec)) continue;
    ops.push_back(make_dir(stage + dir));
    ops.push_back(bind_ro(in.host_prefix + dir, stage + dir));
  }
  for (const char* file : {"/etc/ld.so.cache", "/etc/localtime", "/etc/ssl/openssl.cnf"}) {
    std::error_code ec;
    if (!fs::is_regular_file(in.host_prefix + file, ec)) continue;
    ops.push_back(write_file(stage + file, "", 0644));
    ops.push_back(bind_ro(in.host_prefix + file, stage + file));
  }
  for (const char* dir : {"/proc", "/dev", "/sandbox", "/tmp"}) {
    ops.push_back(make_dir(stage + dir));
  }
}

// /dev: a tmpfs with the safe device nodes, read-only as a whole, and a writable /dev/shm.
void add_dev(const std::string& stage, std::vector<MountOp>& ops) {
  const std::string dev = stage + "/dev";
  ops.push_back(tmpfs(dev, MS_NOSUID | MS_NOEXEC, "size=64k,mode=0755"));
  MountOp read_only = op(MountOpKind::kReadOnlyTree, "", dev);
  read_only.flags = MS_NOSUID | MS_NOEXEC;
  for (const char* node : {"null", "zero", "full", "random", "urandom"}) {
    ops.push_back(write_file(dev + "/" + node, "", 0666));
    ops.push_back(bind(std::string("/dev/") + node, dev + "/" + node));
    read_only.below.push_back(dev + "/" + node);
  }
  ops.push_back(symlink_to("/proc/self/fd", dev + "/fd"));
  ops.push_back(symlink_to("/proc/self/fd/0", dev + "/stdin"));
  ops.push_back(symlink_to("/proc/self/fd/1", dev + "/stdout"));
  ops.push_back(symlink_to("/proc/self/fd/2", dev + "/stderr"));
  ops.push_back(make_dir(dev + "/shm"));
  ops.push_back(std::move(read_only));
  ops.push_back(tmpfs(dev + "/shm", MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=64m,mode=1777"));
}

}  // namespace

MountPlan build_mount_plan(const MountPlanInput& in) {
  MountPlan plan;
  plan.stage = kStageDir;
  auto& ops = plan.ops;
  const std::string& stage = plan.stage;
  if (in.root_dir.empty()) {
    add_host_root(in, stage, ops);
  } else {
    // The runtime root is bound onto the stage as it is; it becomes read-only at the end.
    ops.push_back(bind_ro(in.root_dir, stage));
  }
  MountOp proc = op(MountOpKind::kProc, "proc", stage + "/proc");
  proc.flags = MS_NOSUID | MS_NODEV | MS_NOEXEC;
  ops.push_back(std::move(proc));
  add_dev(stage, ops);
  // As Docker does: /proc files that describe the host's kernel or other users' keys are
  // covered with /dev/null (/proc/keys lists the keys of the sandbox's host uid, which in a
  // single-id rootless map is the caller's own). Bound from the sandbox's /dev/null, which is
  // read-only, nosuid and noexec by now, so that the masks are too without a remount each.
  for (const char* file : {"keys", "kcore", "timer_list", "sched_debug", "latency_stats"}) {
    std::error_code ec;
    if (!fs::exists(in.host_prefix + "/proc/" + file, ec)) continue;
    ops.push_back(bind(stage + "/dev/null", stage + "/proc/" + file));
  }
  ops.push_back(tmpfs(stage + "/sandbox", MS_NOSUID | MS_NODEV,
                      fmt::format("size={},mode=0755,uid={},gid={}", in.sandbox_size_bytes,
                                  in.sandbox_uid, in.sandbox_gid)));
  ops.push_back(tmpfs(stage + "/tmp", MS_NOSUID | MS_NODEV | MS_NOEXEC,
                      fmt::format("size={},mode=1777", in.tmp_size_bytes)));
  return plan;
}

}  // namespace isol8
