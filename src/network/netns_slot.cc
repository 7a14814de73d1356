#include "network/netns_slot.h"

#include <fcntl.h>
#include <linux/nsfs.h>
#include <net/if.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <charconv>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <system_error>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "common/slot_lock_file.h"

namespace isol8 {
namespace {

namespace fs = std::filesystem;

std::string slot_name(uint32_t index) { return "slot-" + std::to_string(index); }

// The index of a slot's mount point ("slot-<n>"), nullopt for any other name (the locks).
std::optional<uint32_t> slot_index(const std::string& name) {
  constexpr std::string_view kPrefix = "slot-";
  if (!name.starts_with(kPrefix) || name.size() == kPrefix.size()) return std::nullopt;
  uint32_t index = 0;
  const char* end = name.data() + name.size();
  const auto [ptr, ec] = std::from_chars(name.data() + kPrefix.size(), end, index);
  if (ec != std::errc() || ptr != end) return std::nullopt;
  return index;
}

// Unmounts everything mounted at `path` (EINVAL: nothing is, any more); returns how many.
Result<size_t> unmount_all(const fs::path& path) {
  size_t unmounted = 0;
  while (::umount2(path.c_str(), MNT_DETACH | UMOUNT_NOFOLLOW) == 0) ++unmounted;
  if (errno != EINVAL && errno != ENOENT) return errno_error("cannot unmount " + path.string());
  return unmounted;
}

// The identity of a namespace file (nsfs gives each live namespace its own inode).
std::optional<uint64_t> namespace_inode(int fd) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) return std::nullopt;
  return static_cast<uint64_t>(st.st_ino);
}

std::optional<uint64_t> own_user_namespace() {
  struct stat st {};
  if (::stat("/proc/self/ns/user", &st) != 0) return std::nullopt;
  return static_cast<uint64_t>(st.st_ino);
}

// The slot's record, in its lock file: "fresh <namespace> <owner>" (the inodes of the namespace
// mounted at the slot and of the user namespace that owns it) once a holder has made it;
// anything else ("used" from the moment a holder takes it) means it must not be entered. One
// line of fixed length, written with one pwrite and read with one pread.
constexpr size_t kRecordSize = 64;

Result<void> store_record(int lock, std::string text) {
  text.resize(kRecordSize - 1, ' ');
  text += '\n';
  if (::pwrite(lock, text.data(), text.size(), 0) != static_cast<ssize_t>(text.size())) {
    return errno_error("cannot write a network namespace slot's record");
  }
  return ok();
}

struct FreshRecord {
  uint64_t netns = 0;
  uint64_t owner = 0;
};

std::optional<FreshRecord> read_fresh_record(int lock) {
  char text[kRecordSize + 1] = {};
  if (::pread(lock, text, kRecordSize, 0) != static_cast<ssize_t>(kRecordSize)) return std::nullopt;
  FreshRecord record;
  if (std::sscanf(text, "fresh %" SCNu64 " %" SCNu64, &record.netns, &record.owner) != 2) {
    return std::nullopt;
  }
  return record;
}

// The namespace the slot's previous holder made, marked used before it is returned; an empty fd
// when the record vouches for none this process can enter (the slot's first run, a holder that
// died before its refill, a mount this process's mount namespace does not see, a namespace of
// another user namespace). The mount stays until this holder's refill replaces it: the lock
// keeps every other runner out meanwhile, and the record keeps them out afterwards.
Result<UniqueFd> take_fresh(int lock, const fs::path& point) {
  const auto record = read_fresh_record(lock);
  if (!record) return UniqueFd();
  UniqueFd netns(::open(point.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (!netns || ::ioctl(netns.get(), NS_GET_NSTYPE) != CLONE_NEWNET) return UniqueFd();
  if (namespace_inode(netns.get()) != record->netns || own_user_namespace() != record->owner) {
    return UniqueFd();
  }
  ISOL8_TRY(store_record(lock, "used"));
  return netns;
}

Result<void> bring_up_loopback() {
  UniqueFd sock(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (!sock) return errno_error("socket");
  struct ifreq ifr {};
  std::strncpy(ifr.ifr_name, "lo", IFNAMSIZ - 1);
  if (::ioctl(sock.get(), SIOCGIFFLAGS, &ifr) != 0) return errno_error("SIOCGIFFLAGS lo");
  ifr.ifr_flags = static_cast<short>(ifr.ifr_flags | IFF_UP);
  if (::ioctl(sock.get(), SIOCSIFFLAGS, &ifr) != 0) return errno_error("bringing up lo");
  return ok();
}

// On a thread of its own, which unshare moves into the new namespace (and which ends there):
// whatever the slot held goes, a new namespace is mounted, and then the record vouches for it.
Result<void> refill(int lock, const fs::path& point) {
  ISOL8_TRY(unmount_all(point));
  if (::unshare(CLONE_NEWNET) != 0) return errno_error("unshare(CLONE_NEWNET)");
  ISOL8_TRY(bring_up_loopback());
  UniqueFd file(::open(point.c_str(), O_RDONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (!file) return errno_error("cannot create " + point.string());
  if (::mount("/proc/thread-self/ns/net", point.c_str(), nullptr, MS_BIND, nullptr) != 0) {
    return errno_error("cannot bind-mount the namespace at " + point.string());
  }
  UniqueFd netns(::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC));
  const auto made = netns ? namespace_inode(netns.get()) : std::nullopt;
  const auto owner = own_user_namespace();
  if (!made || !owner) return make_error("cannot identify the namespace made at " + point.string());
  return store_record(lock, fmt::format("fresh {} {}", *made, *owner));
}

}  // namespace

Result<std::optional<NetnsSlot>> NetnsSlot::claim(const fs::path& dir, uint32_t count) {
  for (uint32_t index = 0; index < count; ++index) {
    auto lock = try_lock_slot_file(dir, slot_name(index) + ".lock");
    if (!lock) return std::move(lock).error();
    if (!*lock) continue;  // a run holds it
    const fs::path point = dir / slot_name(index);
    auto prepared = take_fresh((*lock)->get(), point);
    if (!prepared) return std::move(prepared).error();
    return std::optional<NetnsSlot>(
        NetnsSlot(index, point, std::move(**lock), std::move(prepared).value()));
  }
  return std::optional<NetnsSlot>();
}

NetnsSlot::~NetnsSlot() {
  if (lock_) refill_in_background();
}

void NetnsSlot::refill_in_background() {
  if (!lock_) return;
  try {
    refill_ = std::jthread([lock = std::move(lock_), point = mount_point_] {
      if (auto made = refill(lock.get(), point); !made) {
        spdlog::debug("native: the next network namespace of {} was not made: {}", point.string(),
                      made.error().message);
      }
    });
  } catch (const std::system_error& e) {
    // No thread (a pids limit, say): the slot stays "used", and its next run makes its own.
    spdlog::debug("native: no thread to make the next network namespace: {}", e.what());
  }
}

Result<size_t> NetnsSlot::remove_idle(const fs::path& dir) {
  std::error_code ec;
  fs::directory_iterator entries(dir, ec);
  if (ec == std::errc::no_such_file_or_directory || ec == std::errc::permission_denied) return 0;
  if (ec) return Error{ec.value(), "cannot list " + dir.string() + ": " + ec.message()};
  size_t removed = 0;
  std::string failures;
  for (const auto& entry : entries) {
    const auto index = slot_index(entry.path().filename().string());
    if (!index) continue;
    Result<size_t> unmounted = size_t{0};
    auto lock = try_lock_slot_file(dir, slot_name(*index) + ".lock");
    if (!lock) {
      unmounted = std::move(lock).error();
    } else if (!*lock) {
      continue;  // a run holds it
    } else if (auto marked = store_record((*lock)->get(), "used"); !marked) {
      unmounted = std::move(marked).error();
    } else {
      unmounted = unmount_all(entry.path());
    }
    if (!unmounted) {
      failures += (failures.empty() ? "" : "; ") + unmounted.error().message;
    } else if (*unmounted > 0) {
      ++removed;
    }
  }
  if (!failures.empty()) return Error{EBUSY, failures};
  return removed;
}

}  // namespace isol8
