#include "cgroups/slot_record.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cinttypes>
#include <cstdio>
#include <string>

#include "common/slot_lock_file.h"

namespace isol8::cgroups {
namespace {

// Every record is this long, padded with spaces before its newline, so that a new one fully
// replaces the old in one pwrite.
constexpr size_t kRecordSize = 72;

// "ready <memory> <pids> <cpu quota>"; anything else is not ready.
std::optional<AppliedLimits> parse_ready(const char* text) {
  AppliedLimits limits;
  int used = 0;
  if (std::sscanf(text, "ready %" SCNu64 " %" SCNu64 " %" SCNu64 "%n", &limits.memory_bytes,
                  &limits.pids_max, &limits.cpu_quota_usec, &used) != 3) {
    return std::nullopt;
  }
  for (const char* rest = text + used; *rest != '\n'; ++rest) {
    if (*rest != ' ') return std::nullopt;
  }
  return limits;
}

}  // namespace

Result<std::optional<SlotRecord>> SlotRecord::take(const std::filesystem::path& dir,
                                                   uint32_t index) {
  const std::string name = "slot-" + std::to_string(index) + ".lock";
  auto locked = try_lock_slot_file(dir, name);
  if (!locked) return std::move(locked).error();
  if (!*locked) return std::optional<SlotRecord>();
  UniqueFd fd = std::move(**locked);
  const std::filesystem::path path = dir / name;
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return errno_error("cannot stat " + path.string());
  char identity[40];
  std::snprintf(identity, sizeof identity, "%jx%jx", static_cast<uintmax_t>(st.st_dev),
                static_cast<uintmax_t>(st.st_ino));
  // One pread of a record written by one pwrite of the same fixed length, within one page: a
  // reader sees all of it or none of it.
  char text[kRecordSize + 1] = {};
  const ssize_t n = ::pread(fd.get(), text, sizeof text - 1, 0);
  if (n < 0) return errno_error("cannot read " + path.string());
  return std::optional<SlotRecord>(SlotRecord(index, identity, std::move(fd), parse_ready(text)));
}

Result<void> SlotRecord::store(std::string text) {
  text.resize(kRecordSize - 1, ' ');
  text += '\n';
  if (::pwrite(fd_.get(), text.data(), text.size(), 0) != static_cast<ssize_t>(text.size())) {
    return errno_error("cannot write the record of cgroup slot " + std::to_string(index_));
  }
  return ok();
}

Result<void> SlotRecord::mark_busy() {
  ready_.reset();
  return store("busy");
}

Result<void> SlotRecord::mark_ready(const AppliedLimits& limits) {
  ISOL8_TRY(store("ready " + std::to_string(limits.memory_bytes) + " " +
                  std::to_string(limits.pids_max) + " " + std::to_string(limits.cpu_quota_usec)));
  ready_ = limits;
  return ok();
}

}  // namespace isol8::cgroups
