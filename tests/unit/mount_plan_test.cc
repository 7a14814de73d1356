#include "namespaces/mount_plan.h"
#include "support/files.h"

#include <stdlib.h>
#include <sys/mount.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace isol8 {
namespace {

namespace fs = std::filesystem;

void touch(const fs::path& path, const std::string& text = "") {
  fs::create_directories(path.parent_path());
  std::ofstream(path) << text;
}

const char* kind_name(MountOpKind k) {
  switch (k) {
    case MountOpKind::kBindReadOnly:
      return "bind-ro";
    case MountOpKind::kBind:
      return "bind";
    case MountOpKind::kTmpfs:
      return "tmpfs";
    case MountOpKind::kProc:
      return "proc";
    case MountOpKind::kMkdir:
      return "mkdir";
    case MountOpKind::kSymlink:
      return "symlink";
    case MountOpKind::kWriteFile:
      return "write";
    case MountOpKind::kReadOnlyTree:
      return "read-only-tree";
  }
  return "?";
}

std::string dump(const MountPlan& plan) {
  std::string s;
  for (const auto& op : plan.ops) {
    s += std::string(kind_name(op.kind)) + " " + op.source + " -> " + op.target + " [" + op.data +
         "]\n";
  }
  return s;
}

// A fake host: /usr a directory, /bin and /sbin symlinks into it (merged /usr), /lib a directory,
// /lib64 and /lib32 absent, /etc with secrets next to the harmless ssl directory, and the private
// directories that must never be exposed.
class MountPlanTest : public ::testing::Test {
 protected:
  // The fake host is only read, so the whole suite shares one.
  static void SetUpTestSuite() {
    host_ = new test::TempDir("isol8-mount-plan-test");
    const fs::path h = host_->path();
    fs::create_directories(h / "usr/bin");
    fs::create_directories(h / "usr/sbin");
    fs::create_directories(h / "usr/lib");
    fs::create_symlink("usr/bin", h / "bin");
    fs::create_symlink("usr/sbin", h / "sbin");
    fs::create_directories(h / "lib");
    fs::create_directories(h / "etc/ssl/certs");
    touch(h / "etc/ssl/private/ssl-cert-snakeoil.key", "-----BEGIN PRIVATE KEY-----\n");
    touch(h / "etc/passwd", "root:x:0:0:root:/root:/bin/bash\nalice:x:1000:1000::/home/alice:\n");
    touch(h / "etc/shadow", "root:$6$secret\n");
    touch(h / "etc/ld.so.cache", "cache");
    fs::create_directories(h / "home/alice");
    fs::create_directories(h / "root");
    fs::create_directories(h / "var/lib");
  }
  static void TearDownTestSuite() {
    delete host_;
    host_ = nullptr;
  }
  void SetUp() override { in_.host_prefix = host_->path(); }

  MountPlan build() const { return build_mount_plan(in_); }

  static std::vector<const MountOp*> find(const MountPlan& plan,
                                          const std::function<bool(const MountOp&)>& pred) {
    std::vector<const MountOp*> out;
    for (const auto& op : plan.ops) {
      if (pred(op)) out.push_back(&op);
    }
    return out;
  }
  static const MountOp* find_one(const MountPlan& plan, MountOpKind kind,
                                 const std::string& target) {
    auto ops =
        find(plan, [&](const MountOp& op) { return op.kind == kind && op.target == target; });
    return ops.size() == 1 ? ops[0] : nullptr;
  }
  static size_t index_of(const MountPlan& plan, const MountOp* op) {
    return static_cast<size_t>(op - plan.ops.data());
  }
  std::string host(const std::string& p) const { return host_->path() + p; }
  std::string staged(const MountPlan& plan, const std::string& p) const { return plan.stage + p; }

  static test::TempDir* host_;
  MountPlanInput in_;
};

test::TempDir* MountPlanTest::host_ = nullptr;

// ---------------------------------------------------------------------------------------------
// Host mode: the root

TEST_F(MountPlanTest, StageIsTheStagingDirectory) {
  EXPECT_EQ(build().stage, std::string(kStageDir));
}

TEST_F(MountPlanTest, HostModeStartsWithATmpfsOnTheStage) {
  const MountPlan plan = build();
  ASSERT_FALSE(plan.ops.empty());
  const MountOp& first = plan.ops.front();
  EXPECT_EQ(first.kind, MountOpKind::kTmpfs) << dump(plan);
  EXPECT_EQ(first.target, plan.stage);
  EXPECT_TRUE(first.flags & MS_NOSUID);
  EXPECT_TRUE(first.flags & MS_NODEV);
}

TEST_F(MountPlanTest, EveryTargetIsInsideTheStage) {
  const MountPlan plan = build();
  for (const auto& op : plan.ops) {
    EXPECT_TRUE(op.target == plan.stage || op.target.starts_with(plan.stage + "/"))
        << kind_name(op.kind) << " " << op.target;
  }
}

TEST_F(MountPlanTest, BindsUsrReadOnlyAfterCreatingItsMountPoint) {
  const MountPlan plan = build();
  const MountOp* bind = find_one(plan, MountOpKind::kBindReadOnly, staged(plan, "/usr"));
  ASSERT_NE(bind, nullptr) << dump(plan);
  EXPECT_EQ(bind->source, host("/usr"));
  const MountOp* dir = find_one(plan, MountOpKind::kMkdir, staged(plan, "/usr"));
  ASSERT_NE(dir, nullptr) << dump(plan);
  EXPECT_LT(index_of(plan, dir), index_of(plan, bind));
}

TEST_F(MountPlanTest, BindsPlainLibDirectory) {
  const MountPlan plan = build();
  const MountOp* bind = find_one(plan, MountOpKind::kBindReadOnly, staged(plan, "/lib"));
  ASSERT_NE(bind, nullptr) << dump(plan);
  EXPECT_EQ(bind->source, host("/lib"));
}

TEST_F(MountPlanTest, SymlinkedSystemDirsBecomeTheSameSymlinks) {
  const MountPlan plan = build();
  const MountOp* bin = find_one(plan, MountOpKind::kSymlink, staged(plan, "/bin"));
  ASSERT_NE(bin, nullptr) << dump(plan);
  EXPECT_EQ(bin->source, "usr/bin");
  const MountOp* sbin = find_one(plan, MountOpKind::kSymlink, staged(plan, "/sbin"));
  ASSERT_NE(sbin, nullptr) << dump(plan);
  EXPECT_EQ(sbin->source, "usr/sbin");
  // A symlink is recreated, never bound or created as a directory.
  for (const auto& op : plan.ops) {
    if (op.target == staged(plan, "/bin")) {
      EXPECT_EQ(op.kind, MountOpKind::kSymlink) << dump(plan);
    }
  }
}

TEST_F(MountPlanTest, AbsentSystemDirsAreSkipped) {
  const MountPlan plan = build();
  for (const char* dir : {"/lib64", "/lib32", "/libx32"}) {
    EXPECT_TRUE(find(plan,
                     [&](const MountOp& op) {
                       return op.target == staged(plan, dir) || op.source == host(dir);
                     })
                    .empty())
        << dir << "\n"
        << dump(plan);
  }
}

TEST_F(MountPlanTest, CustomSystemDirListIsHonoured) {
  in_.host_system_dirs = {"/usr"};
  const MountPlan plan = build();
  EXPECT_NE(find_one(plan, MountOpKind::kBindReadOnly, staged(plan, "/usr")), nullptr);
  EXPECT_EQ(find_one(plan, MountOpKind::kSymlink, staged(plan, "/bin")), nullptr) << dump(plan);
  EXPECT_EQ(find_one(plan, MountOpKind::kBindReadOnly, staged(plan, "/lib")), nullptr)
      << dump(plan);
}

TEST_F(MountPlanTest, HostBindsComeOnlyFromTheHostView) {
  const MountPlan plan = build();
  for (const auto& op : plan.ops) {
    if (op.kind != MountOpKind::kBindReadOnly) continue;
    EXPECT_TRUE(op.source.starts_with(host_->path() + "/")) << op.source;
  }
}

TEST_F(MountPlanTest, NeverExposesHostEtcHomeRootOrVar) {
  const MountPlan plan = build();
  for (const auto& op : plan.ops) {
    if (op.kind != MountOpKind::kBindReadOnly && op.kind != MountOpKind::kSymlink) continue;
    const std::string& src = op.source;
    EXPECT_NE(src, host("/etc")) << dump(plan);
    EXPECT_NE(src, host("/etc/passwd"));
    EXPECT_NE(src, host("/etc/shadow"));
    EXPECT_NE(src, host("/"));
    EXPECT_NE(src, host(""));
    for (const char* dir : {"/home", "/root", "/var"}) {
      EXPECT_FALSE(src == host(dir) || src.starts_with(host(dir) + "/")) << src;
      EXPECT_FALSE(src == dir || src.starts_with(std::string(dir) + "/")) << src;
    }
  }
}

TEST_F(MountPlanTest, BindsHarmlessPartsOfEtc) {
  const MountPlan plan = build();
  const MountOp* ssl = find_one(plan, MountOpKind::kBindReadOnly, staged(plan, "/etc/ssl/certs"));
  ASSERT_NE(ssl, nullptr) << dump(plan);
  EXPECT_EQ(ssl->source, host("/etc/ssl/certs"));
  const MountOp* cache =
      find_one(plan, MountOpKind::kBindReadOnly, staged(plan, "/etc/ld.so.cache"));
  ASSERT_NE(cache, nullptr) << dump(plan);
  EXPECT_EQ(cache->source, host("/etc/ld.so.cache"));
  // Absent on this fake host.
  EXPECT_EQ(find_one(plan, MountOpKind::kBindReadOnly, staged(plan, "/etc/ca-certificates")),
            nullptr);
  EXPECT_EQ(find_one(plan, MountOpKind::kBindReadOnly, staged(plan, "/etc/localtime")), nullptr);
}

// Debian keeps TLS private keys in /etc/ssl/private (root:ssl-cert, 0710). The comment in
// add_host_root says the /etc pieces it binds "hold no secrets"; binding all of /etc/ssl exposes
// that directory, readable in the sandbox whenever the caller's supplementary groups survive
// (the rootless single-id mode cannot drop them). Only the certificates should be visible, or
// the private directory must be covered.
TEST_F(MountPlanTest, NeverExposesTlsPrivateKeys) {
  const MountPlan plan = build();
  const std::string private_dir = host("/etc/ssl/private");
  bool exposed = false;
  for (const auto& op : plan.ops) {
    if (op.kind == MountOpKind::kBindReadOnly &&
        (op.source == private_dir || private_dir.starts_with(op.source + "/"))) {
      exposed = true;
    }
    if (exposed && op.kind == MountOpKind::kTmpfs &&
        op.target == staged(plan, "/etc/ssl/private")) {
      exposed = false;  // covered by an empty tmpfs after the bind
    }
  }
  EXPECT_FALSE(exposed) << dump(plan);
}

// Every mount needs its mount point: in host mode the stage is an empty tmpfs, so each mount
// target must be created (directory or file) earlier in the plan.
TEST_F(MountPlanTest, EveryMountPointIsCreatedBeforeItIsMounted) {
  const MountPlan plan = build();
  for (size_t i = 1; i < plan.ops.size(); ++i) {
    const MountOp& op = plan.ops[i];
    if (op.kind != MountOpKind::kBindReadOnly && op.kind != MountOpKind::kBind &&
        op.kind != MountOpKind::kTmpfs && op.kind != MountOpKind::kProc) {
      continue;
    }
    bool created = false;
    for (size_t j = 0; j < i; ++j) {
      const MountOp& prev = plan.ops[j];
      if (prev.target == op.target &&
          (prev.kind == MountOpKind::kMkdir || prev.kind == MountOpKind::kWriteFile)) {
        created = true;
      }
    }
    EXPECT_TRUE(created) << kind_name(op.kind) << " " << op.target << "\n" << dump(plan);
  }
}

// ---------------------------------------------------------------------------------------------
// Host mode: the generated /etc

TEST_F(MountPlanTest, PasswdHasTheSandboxUser) {
  const MountPlan plan = build();
  const MountOp* passwd = find_one(plan, MountOpKind::kWriteFile, staged(plan, "/etc/passwd"));
  ASSERT_NE(passwd, nullptr) << dump(plan);
  EXPECT_NE(passwd->content.find("sandbox:x:100:101:sandbox:/sandbox:"), std::string::npos)
      << passwd->content;
  EXPECT_EQ(passwd->content.find("alice"), std::string::npos) << "host users leaked";
  EXPECT_EQ(passwd->mode, 0644u);
  const MountOp* etc = find_one(plan, MountOpKind::kMkdir, staged(plan, "/etc"));
  ASSERT_NE(etc, nullptr);
  EXPECT_LT(index_of(plan, etc), index_of(plan, passwd));
}

TEST_F(MountPlanTest, PasswdAndGroupFollowTheConfiguredIds) {
  in_.sandbox_uid = 1234;
  in_.sandbox_gid = 5678;
  const MountPlan plan = build();
  const MountOp* passwd = find_one(plan, MountOpKind::kWriteFile, staged(plan, "/etc/passwd"));
  ASSERT_NE(passwd, nullptr);
  EXPECT_NE(passwd->content.find("sandbox:x:1234:5678:"), std::string::npos) << passwd->content;
  const MountOp* group = find_one(plan, MountOpKind::kWriteFile, staged(plan, "/etc/group"));
  ASSERT_NE(group, nullptr);
  EXPECT_NE(group->content.find("sandbox:x:5678:"), std::string::npos) << group->content;
}

TEST_F(MountPlanTest, GroupHasTheSandboxGroup) {
  const MountPlan plan = build();
  const MountOp* group = find_one(plan, MountOpKind::kWriteFile, staged(plan, "/etc/group"));
  ASSERT_NE(group, nullptr) << dump(plan);
  EXPECT_NE(group->content.find("sandbox:x:101:"), std::string::npos) << group->content;
}

TEST_F(MountPlanTest, HostsAndHostnameUseTheHostname) {
  in_.hostname = "boxy";
  const MountPlan plan = build();
  const MountOp* hosts = find_one(plan, MountOpKind::kWriteFile, staged(plan, "/etc/hosts"));
  ASSERT_NE(hosts, nullptr) << dump(plan);
  EXPECT_NE(hosts->content.find("127.0.0.1"), std::string::npos) << hosts->content;
  EXPECT_NE(hosts->content.find("localhost"), std::string::npos) << hosts->content;
  EXPECT_NE(hosts->content.find("boxy"), std::string::npos) << hosts->content;
  const MountOp* name = find_one(plan, MountOpKind::kWriteFile, staged(plan, "/etc/hostname"));
  ASSERT_NE(name, nullptr) << dump(plan);
  EXPECT_EQ(name->content, "boxy\n");
}

TEST_F(MountPlanTest, ResolvConfIsEmptyWithoutHostNetwork) {
  in_.host_network = false;
  in_.host_resolv_conf = "nameserver 10.0.0.53\n";
  const MountPlan plan = build();
  const MountOp* resolv = find_one(plan, MountOpKind::kWriteFile, staged(plan, "/etc/resolv.conf"));
  ASSERT_NE(resolv, nullptr) << dump(plan);
  EXPECT_EQ(resolv->content, "");
}

TEST_F(MountPlanTest, ResolvConfIsTheHostsWithHostNetwork) {
  in_.host_network = true;
  in_.host_resolv_conf = "nameserver 10.0.0.53\nsearch example.com\n";
  const MountPlan plan = build();
  const MountOp* resolv = find_one(plan, MountOpKind::kWriteFile, staged(plan, "/etc/resolv.conf"));
  ASSERT_NE(resolv, nullptr) << dump(plan);
  EXPECT_EQ(resolv->content, in_.host_resolv_conf);
}

// ---------------------------------------------------------------------------------------------
// /sandbox, /tmp, /proc

TEST_F(MountPlanTest, SandboxTmpfsAllowsExecButNotSuidOrDevices) {
  in_.sandbox_size_bytes = 123456789;
  const MountPlan plan = build();
  const MountOp* sb = find_one(plan, MountOpKind::kTmpfs, staged(plan, "/sandbox"));
  ASSERT_NE(sb, nullptr) << dump(plan);
  EXPECT_EQ(sb->flags & MS_NOEXEC, 0u) << "code written to /sandbox must be runnable";
  EXPECT_NE(sb->flags & MS_NOSUID, 0u);
  EXPECT_NE(sb->flags & MS_NODEV, 0u);
  EXPECT_EQ(sb->flags & MS_RDONLY, 0u);
  EXPECT_NE(sb->data.find("size=123456789"), std::string::npos) << sb->data;
  EXPECT_NE(sb->data.find("uid=100"), std::string::npos) << sb->data;
  EXPECT_NE(sb->data.find("gid=101"), std::string::npos) << sb->data;
}

TEST_F(MountPlanTest, SandboxTmpfsIsOwnedByTheConfiguredIds) {
  in_.sandbox_uid = 777;
  in_.sandbox_gid = 888;
  const MountPlan plan = build();
  const MountOp* sb = find_one(plan, MountOpKind::kTmpfs, staged(plan, "/sandbox"));
  ASSERT_NE(sb, nullptr);
  EXPECT_NE(sb->data.find("uid=777"), std::string::npos) << sb->data;
  EXPECT_NE(sb->data.find("gid=888"), std::string::npos) << sb->data;
}

TEST_F(MountPlanTest, TmpTmpfsIsNoexecNosuidNodevAndSticky) {
  in_.tmp_size_bytes = 7654321;
  const MountPlan plan = build();
  const MountOp* tmp = find_one(plan, MountOpKind::kTmpfs, staged(plan, "/tmp"));
  ASSERT_NE(tmp, nullptr) << dump(plan);
  EXPECT_EQ(tmp->flags & (MS_NOEXEC | MS_NOSUID | MS_NODEV), MS_NOEXEC | MS_NOSUID | MS_NODEV);
  EXPECT_NE(tmp->data.find("mode=1777"), std::string::npos) << tmp->data;
  EXPECT_NE(tmp->data.find("size=7654321"), std::string::npos) << tmp->data;
}

TEST_F(MountPlanTest, ProcIsMountedNosuidNodevNoexec) {
  const MountPlan plan = build();
  const MountOp* proc = find_one(plan, MountOpKind::kProc, staged(plan, "/proc"));
  ASSERT_NE(proc, nullptr) << dump(plan);
  EXPECT_EQ(proc->flags & (MS_NOEXEC | MS_NOSUID | MS_NODEV), MS_NOEXEC | MS_NOSUID | MS_NODEV);
}

// ---------------------------------------------------------------------------------------------
// /dev

TEST_F(MountPlanTest, DevIsATmpfsWithOnlyTheSafeDevices) {
  const MountPlan plan = build();
  const std::string dev = staged(plan, "/dev");
  const MountOp* tmpfs = find_one(plan, MountOpKind::kTmpfs, dev);
  ASSERT_NE(tmpfs, nullptr) << dump(plan);
  EXPECT_NE(tmpfs->flags & MS_NOSUID, 0u);
  EXPECT_NE(tmpfs->flags & MS_NOEXEC, 0u);
  std::vector<std::string> devices;
  for (const MountOp* op :
       find(plan, [](const MountOp& o) { return o.kind == MountOpKind::kBind; })) {
    devices.push_back(op->source);
    EXPECT_EQ(op->target, dev + op->source.substr(std::string("/dev").size()));
    EXPECT_GT(index_of(plan, op), index_of(plan, tmpfs));
  }
  std::sort(devices.begin(), devices.end());
  EXPECT_EQ(devices, (std::vector<std::string>{"/dev/full", "/dev/null", "/dev/random",
                                               "/dev/urandom", "/dev/zero"}));
}

// /dev is made read-only as a tree once its nodes are bound (each node is a mount of its own,
// listed for kernels that remount one at a time); only /dev/shm is mounted after, writable.
TEST_F(MountPlanTest, DevIsReadOnlyAsATreeAfterItIsFilledExceptShm) {
  const MountPlan plan = build();
  const std::string dev = staged(plan, "/dev");
  const MountOp* ro = find_one(plan, MountOpKind::kReadOnlyTree, dev);
  ASSERT_NE(ro, nullptr) << dump(plan);
  EXPECT_EQ(ro->flags, static_cast<unsigned long>(MS_NOSUID | MS_NOEXEC));
  EXPECT_EQ(ro->flags & MS_NODEV, 0u) << "the device nodes must stay usable";
  std::vector<std::string> nodes;
  for (const auto& op : plan.ops) {
    if (&op == ro) continue;
    if (!op.target.starts_with(dev + "/") && op.target != dev) continue;
    if (op.target == dev + "/shm" && op.kind == MountOpKind::kTmpfs) {
      EXPECT_GT(index_of(plan, &op), index_of(plan, ro)) << "/dev/shm must stay writable";
      continue;
    }
    EXPECT_LT(index_of(plan, &op), index_of(plan, ro))
        << kind_name(op.kind) << " " << op.target << " comes after the read-only tree";
    if (op.kind == MountOpKind::kBind) nodes.push_back(op.target);
  }
  EXPECT_EQ(ro->below, nodes);
}

// The /proc masks are binds of the sandbox's /dev/null once it is read-only, so they are too.
TEST_F(MountPlanTest, ProcMasksAreBoundFromTheReadOnlyDevNull) {
  test::TempDir with_proc("isol8-mount-plan-masks");
  touch(fs::path(with_proc.path()) / "proc/keys");
  touch(fs::path(with_proc.path()) / "proc/timer_list");
  in_.host_prefix = with_proc.path();
  const MountPlan plan = build();
  const MountOp* ro = find_one(plan, MountOpKind::kReadOnlyTree, staged(plan, "/dev"));
  ASSERT_NE(ro, nullptr) << dump(plan);
  size_t masks = 0;
  for (const auto& op : plan.ops) {
    if (!op.target.starts_with(staged(plan, "/proc/"))) continue;
    EXPECT_EQ(op.kind, MountOpKind::kBind) << dump(plan);
    EXPECT_EQ(op.source, staged(plan, "/dev/null"));
    EXPECT_GT(index_of(plan, &op), index_of(plan, ro)) << dump(plan);
    ++masks;
  }
  EXPECT_EQ(masks, 2u) << dump(plan);
}

TEST_F(MountPlanTest, DevHasTheStandardFdSymlinks) {
  const MountPlan plan = build();
  const std::string dev = staged(plan, "/dev");
  const MountOp* fd = find_one(plan, MountOpKind::kSymlink, dev + "/fd");
  ASSERT_NE(fd, nullptr) << dump(plan);
  EXPECT_EQ(fd->source, "/proc/self/fd");
  const MountOp* out = find_one(plan, MountOpKind::kSymlink, dev + "/stdout");
  ASSERT_NE(out, nullptr);
  EXPECT_EQ(out->source, "/proc/self/fd/1");
}

// ---------------------------------------------------------------------------------------------
// Root filesystem mode

TEST_F(MountPlanTest, RootfsModeBindsTheRootOnTheStageFirst) {
  in_.root_dir = "/srv/isol8/rootfs/python";
  const MountPlan plan = build();
  ASSERT_FALSE(plan.ops.empty());
  const MountOp& first = plan.ops.front();
  EXPECT_EQ(first.kind, MountOpKind::kBindReadOnly) << dump(plan);
  EXPECT_EQ(first.source, in_.root_dir);
  EXPECT_EQ(first.target, plan.stage);
}

TEST_F(MountPlanTest, RootfsModeBuildsNoEtcAndUsesNoHostDirs) {
  in_.root_dir = "/srv/isol8/rootfs/python";
  const MountPlan plan = build();
  for (const auto& op : plan.ops) {
    EXPECT_FALSE(op.target.starts_with(plan.stage + "/etc")) << op.target;
    EXPECT_FALSE(op.source.starts_with(host_->path())) << op.source;
    // The bound root is read-only: directories can only be made inside the tmpfs on /dev.
    if (op.kind == MountOpKind::kMkdir) {
      EXPECT_TRUE(op.target.starts_with(plan.stage + "/dev/")) << op.target;
    }
  }
  EXPECT_EQ(find_one(plan, MountOpKind::kTmpfs, plan.stage), nullptr) << dump(plan);
}

TEST_F(MountPlanTest, RootfsModeStillMountsProcDevSandboxAndTmp) {
  in_.root_dir = "/srv/isol8/rootfs/python";
  const MountPlan plan = build();
  EXPECT_NE(find_one(plan, MountOpKind::kProc, staged(plan, "/proc")), nullptr) << dump(plan);
  EXPECT_NE(find_one(plan, MountOpKind::kTmpfs, staged(plan, "/dev")), nullptr);
  EXPECT_NE(find_one(plan, MountOpKind::kReadOnlyTree, staged(plan, "/dev")), nullptr);
  const MountOp* sb = find_one(plan, MountOpKind::kTmpfs, staged(plan, "/sandbox"));
  ASSERT_NE(sb, nullptr);
  EXPECT_EQ(sb->flags & MS_NOEXEC, 0u);
  const MountOp* tmp = find_one(plan, MountOpKind::kTmpfs, staged(plan, "/tmp"));
  ASSERT_NE(tmp, nullptr);
  EXPECT_NE(tmp->flags & MS_NOEXEC, 0u);
}

}  // namespace
}  // namespace isol8
