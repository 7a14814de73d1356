#include "common/slot_lock_file.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>

namespace isol8 {

Result<std::optional<UniqueFd>> try_lock_slot_file(const std::filesystem::path& dir,
                                                   const std::string& name) {
  const std::filesystem::path path = dir / name;
  UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (!fd && errno == ENOENT) {
    // The first slot since boot: the directory is made here, for root only.
    if (::mkdir(dir.parent_path().c_str(), 0755) != 0 && errno != EEXIST) {
      return errno_error("cannot create " + dir.parent_path().string());
    }
    if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
      return errno_error("cannot create " + dir.string());
    }
    fd.reset(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600));
  }
  if (!fd) return errno_error("cannot open " + path.string());
  if (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
    if (errno == EWOULDBLOCK) return std::optional<UniqueFd>();
    return errno_error("cannot lock " + path.string());
  }
  return std::optional<UniqueFd>(std::move(fd));
}

}  // namespace isol8
