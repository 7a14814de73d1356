#include "namespaces/child_mounts.h"

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>

#include "namespaces/child_common.h"

namespace isol8::child {
namespace {

// Mount flags that a user namespace may not clear on a bind it did not create ("locked" flags).
unsigned long locked_flags(const char* path) {
  struct statvfs st;
  if (::statvfs(path, &st) != 0) return 0;
  unsigned long flags = 0;
  if (st.f_flag & ST_NOSUID) flags |= MS_NOSUID;
  if (st.f_flag & ST_NODEV) flags |= MS_NODEV;
  if (st.f_flag & ST_NOEXEC) flags |= MS_NOEXEC;
  if (st.f_flag & ST_NOATIME) flags |= MS_NOATIME;
  if (st.f_flag & ST_NODIRATIME) flags |= MS_NODIRATIME;
  if (st.f_flag & ST_RELATIME) flags |= MS_RELATIME;
  return flags;
}

// Makes mounts read-only (with `extra`: MS_NOSUID, MS_NODEV, MS_NOEXEC), keeping their other
// flags. mount_setattr (Linux 5.12) only sets what it is given, and does a whole tree in one
// call; a remount must name every flag to keep, locked ones included, so it needs a statvfs
// first. The remount is used once mount_setattr has failed for any reason (an older kernel, or
// a container's seccomp profile that does not know it): what the remount cannot do fails then.
class ReadOnlyMaker {
 public:
  void make(const char* target, unsigned long extra, ChildStep step) {
    if (!try_setattr(target, extra, 0)) remount(target, extra, step);
  }
  // `target` and every mount below it; `below` lists those for the remount.
  void make_tree(const char* target, const std::vector<std::string>& below, unsigned long extra,
                 ChildStep step) {
    if (try_setattr(target, extra, AT_RECURSIVE)) return;
    remount(target, extra, step);
    for (const auto& path : below) remount(path.c_str(), extra, step);
  }

 private:
  bool try_setattr(const char* target, unsigned long extra, unsigned int recursive) {
    if (!setattr_works_) return false;
    struct mount_attr attr {};
    attr.attr_set = MOUNT_ATTR_RDONLY | ((extra & MS_NOSUID) ? MOUNT_ATTR_NOSUID : 0) |
                    ((extra & MS_NODEV) ? MOUNT_ATTR_NODEV : 0) |
                    ((extra & MS_NOEXEC) ? MOUNT_ATTR_NOEXEC : 0);
    // Following a final symlink, as mount(2) did when it made the mount: the same mount.
    if (::syscall(SYS_mount_setattr, AT_FDCWD, target, recursive, &attr, sizeof attr) == 0) {
      return true;
    }
    setattr_works_ = false;
    return false;
  }
  static void remount(const char* target, unsigned long extra, ChildStep step) {
    const unsigned long flags = MS_REMOUNT | MS_BIND | MS_RDONLY | locked_flags(target) | extra;
    check(::mount(nullptr, target, nullptr, flags, nullptr) == 0, step);
  }

  bool setattr_works_ = true;
};

void apply_mount_op(const MountOp& op, ReadOnlyMaker& read_only) {
  const char* target = op.target.c_str();
  switch (op.kind) {
    case MountOpKind::kBindReadOnly:
      check(::mount(op.source.c_str(), target, nullptr, MS_BIND | MS_REC, nullptr) == 0,
            ChildStep::kMountBind);
      read_only.make(target, MS_NOSUID | MS_NODEV, ChildStep::kMountRemount);
      break;
    case MountOpKind::kBind:
      check(::mount(op.source.c_str(), target, nullptr, MS_BIND, nullptr) == 0,
            ChildStep::kMountBind);
      break;
    case MountOpKind::kTmpfs:
      check(::mount("tmpfs", target, "tmpfs", op.flags, op.data.c_str()) == 0,
            ChildStep::kMountTmpfs);
      break;
    case MountOpKind::kProc:
      check(::mount("proc", target, "proc", op.flags, nullptr) == 0, ChildStep::kMountProc);
      break;
    case MountOpKind::kMkdir:
      check(::mkdir(target, op.mode) == 0 || errno == EEXIST, ChildStep::kMkdir);
      break;
    case MountOpKind::kSymlink:
      check(::symlink(op.source.c_str(), target) == 0, ChildStep::kSymlink);
      break;
    case MountOpKind::kWriteFile:
      create_file(target, op.content.data(), op.content.size(), op.mode, ChildStep::kWriteFile);
      break;
    case MountOpKind::kReadOnlyTree:
      read_only.make_tree(target, op.below, op.flags, ChildStep::kMountRemount);
      break;
  }
}

}  // namespace

void build_root(const MountPlan& plan) {
  check(::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) == 0,
        ChildStep::kMountPrivate);
  ReadOnlyMaker read_only;
  for (const MountOp& op : plan.ops) apply_mount_op(op, read_only);
  check(::chdir(plan.stage.c_str()) == 0, ChildStep::kPivotRoot);
  // pivot_root(".", ".") stacks the old root on top of the new one; detaching it leaves only
  // the new root, with no directory needed for the old one.
  check(::syscall(SYS_pivot_root, ".", ".") == 0, ChildStep::kPivotRoot);
  check(::umount2(".", MNT_DETACH) == 0, ChildStep::kDetachOldRoot);
  check(::chdir("/") == 0, ChildStep::kDetachOldRoot);
  read_only.make("/", 0, ChildStep::kRemountRootReadOnly);
}

}  // namespace isol8::child
