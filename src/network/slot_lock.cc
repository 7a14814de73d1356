#include "network/slot_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

namespace isol8 {
namespace {

// Takes the lock of an open lock file, if free, and checks that the file is still the one at
// `path` (a releasing owner unlinks it before unlocking: whoever locked the unlinked inode
// must try again with a fresh file).
enum class LockState { kTaken, kBusy, kStale };

LockState try_lock(int fd, const std::filesystem::path& path) {
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) return LockState::kBusy;
  struct stat held {};
  struct stat named {};
  if (::fstat(fd, &held) != 0 || ::stat(path.c_str(), &named) != 0 || held.st_ino != named.st_ino ||
      held.st_dev != named.st_dev) {
    return LockState::kStale;
  }
  return LockState::kTaken;
}

}  // namespace

Result<SlotLock> SlotLock::claim(const std::filesystem::path& dir, uint32_t count) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return make_error(fmt::format("cannot create {}: {}", dir.string(), ec.message()));
  uint32_t start = 0;
  if (::getrandom(&start, sizeof start, GRND_NONBLOCK) != sizeof start) start = ::getpid();
  for (uint32_t i = 0; i < count; ++i) {
    const uint32_t slot = (start + i) % count;
    auto path = dir / fmt::format("slot-{}.lock", slot);
    for (int attempt = 0; attempt < 3; ++attempt) {
      UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600));
      if (!fd) return errno_error(fmt::format("open {}", path.string()));
      const LockState state = try_lock(fd.get(), path);
      if (state == LockState::kBusy) break;
      if (state == LockState::kStale) continue;
      const auto pid = fmt::format("{}\n", ::getpid());
      if (::ftruncate(fd.get(), 0) != 0 ||
          ::pwrite(fd.get(), pid.data(), pid.size(), 0) != static_cast<ssize_t>(pid.size())) {
        const int saved = errno;
        ::unlink(path.c_str());
        return errno_error(fmt::format("write {}", path.string()), saved);
      }
      return SlotLock(slot, std::move(path), std::move(fd));
    }
  }
  return make_error(fmt::format("all {} network slots in {} are in use", count, dir.string()));
}

size_t SlotLock::reclaim_stale(const std::filesystem::path& dir) {
  size_t removed = 0;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    const auto name = entry.path().filename().string();
    if (!name.starts_with("slot-") || !name.ends_with(".lock")) continue;
    UniqueFd fd(::open(entry.path().c_str(), O_RDWR | O_CLOEXEC | O_NOFOLLOW));
    if (!fd || try_lock(fd.get(), entry.path()) != LockState::kTaken) continue;
    if (::unlink(entry.path().c_str()) == 0) ++removed;
  }
  return removed;
}

SlotLock::~SlotLock() {
  // Unlink first, then unlock (by closing): see try_lock.
  if (fd_) ::unlink(path_.c_str());
}

}  // namespace isol8
