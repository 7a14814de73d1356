#include "namespaces/session_transfer.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace isol8 {
namespace {

// Opens `rel` beneath `base` without leaving it: no "..", no absolute symlink, no magic link.
int open_beneath(int base, const char* rel, uint64_t flags, uint64_t mode) {
  struct open_how how;
  std::memset(&how, 0, sizeof how);
  how.flags = flags;
  how.mode = mode;
  how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
  return static_cast<int>(::syscall(SYS_openat2, base, rel, &how, sizeof how));
}

// Creates the missing parent directories of `rel` (a path relative to `base`), each beneath it.
int make_parents_beneath(int base, char* rel) {
  for (char* slash = std::strchr(rel, '/'); slash != nullptr; slash = std::strchr(slash + 1, '/')) {
    *slash = '\0';
    char* name = std::strrchr(rel, '/');
    int parent = base;
    if (name != nullptr) {
      *name = '\0';
      parent = open_beneath(base, rel, O_PATH | O_DIRECTORY | O_CLOEXEC, 0);
      *name = '/';
      ++name;
    } else {
      name = rel;
    }
    int err = 0;
    if (parent < 0) {
      err = errno;
    } else if (::mkdirat(parent, name, 0755) != 0 && errno != EEXIST) {
      err = errno;
    }
    if (parent >= 0 && parent != base) ::close(parent);
    *slash = '/';
    if (err != 0) return err;
  }
  return 0;
}

// The file of a transfer, opened as the sandbox user; 0 or an errno (kNotRegularFile too).
}  // namespace

int open_for_transfer(SessionCommand& cmd, int& out) {
  out = -1;
  if (cmd.path_size == 0 || cmd.path_size >= SessionCommand::kMaxPath) return EINVAL;
  cmd.path[cmd.path_size] = '\0';
  const char* base_path = nullptr;
  char* rel = nullptr;
  if (std::strncmp(cmd.path, "/sandbox/", 9) == 0) {
    base_path = "/sandbox";
    rel = cmd.path + 9;
  } else if (std::strncmp(cmd.path, "/tmp/", 5) == 0) {
    base_path = "/tmp";
    rel = cmd.path + 5;
  } else {
    return EXDEV;
  }
  if (*rel == '\0') return EISDIR;
  const int base = ::open(base_path, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (base < 0) return errno;
  const bool write = cmd.flags == SessionCommand::kWrite;
  int err = write ? make_parents_beneath(base, rel) : 0;
  int fd = -1;
  if (err == 0) {
    const uint64_t flags =
        (write ? (O_WRONLY | O_CREAT | O_TRUNC) : O_RDONLY) | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC;
    fd = open_beneath(base, rel, flags, write ? (cmd.mode & 0777) : 0);
    if (fd < 0) err = errno;
  }
  ::close(base);
  if (fd < 0) return err;
  struct stat st;
  if (::fstat(fd, &st) != 0) err = errno;
  if (err == 0 && S_ISDIR(st.st_mode)) err = EISDIR;
  if (err == 0 && !S_ISREG(st.st_mode)) err = kNotRegularFile;
  if (err == 0 && write && ::fchmod(fd, cmd.mode & 0777) != 0) err = errno;
  if (err != 0) {
    ::close(fd);
    return err;
  }
  out = fd;
  return 0;
}

}  // namespace isol8
