#pragma once
// Claims one network slot across concurrent runner processes: <dir>/slot-<n>.lock, held with
// flock() and holding the owner's pid. The lock dies with its owner (even on SIGKILL), so a
// file whose lock can be taken belongs to nobody; the owner unlinks it on release.

#include <sys/types.h>

#include <cstdint>
#include <filesystem>

#include "common/unique_fd.h"
#include "isol8/result.h"

namespace isol8 {

class SlotLock {
 public:
  static constexpr const char* kDefaultDir = "/run/isol8/net";

  // Claims a free slot in [0, count), trying them in order from a random one, so that a slot
  // just released (whose interfaces the kernel may still be removing) is rarely taken again.
  static Result<SlotLock> claim(const std::filesystem::path& dir, uint32_t count);

  // Removes lock files whose owner is gone; returns how many.
  static size_t reclaim_stale(const std::filesystem::path& dir);

  SlotLock(SlotLock&&) = default;
  SlotLock& operator=(SlotLock&&) = default;
  ~SlotLock();

  uint32_t slot() const { return slot_; }
  const std::filesystem::path& path() const { return path_; }

 private:
  SlotLock(uint32_t slot, std::filesystem::path path, UniqueFd fd)
      : slot_(slot), path_(std::move(path)), fd_(std::move(fd)) {}

  uint32_t slot_ = 0;
  std::filesystem::path path_;
  UniqueFd fd_;
};

}  // namespace isol8
