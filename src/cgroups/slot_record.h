#pragma once
// The lock and the record of one reusable cgroup slot (cgroup_v1_slots.cc): <dir>/slot-<n>.lock,
// held with flock() while a run uses the slot. The lock dies with its holder, even on SIGKILL.
// The file stays, as the slot's cgroups do, and says what they are known to be: "ready <memory>
// <pids> <cpu quota>" once a run gave the slot back clean; anything else ("busy" while a run
// uses it, or after a runner was killed mid-run) means unknown, and the next holder makes the
// cgroups anew. Each record is one line of fixed length, written with one pwrite.

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

#include "cgroups/cgroup_fs.h"
#include "common/unique_fd.h"
#include "isol8/result.h"

namespace isol8::cgroups {

class SlotRecord {
 public:
  // Takes slot `index` when no other process holds it; nullopt when one does. Creates `dir`
  // (mode 0700) when missing.
  static Result<std::optional<SlotRecord>> take(const std::filesystem::path& dir, uint32_t index);

  SlotRecord(SlotRecord&&) = default;
  SlotRecord& operator=(SlotRecord&&) = default;
  ~SlotRecord() = default;  // closing the file unlocks it

  uint32_t index() const { return index_; }
  // The lock file's identity (device and inode, in hex): part of the slot's cgroup names, so
  // that runners with different lock directories (containers with their own /run that share the
  // host's cgroup hierarchies) never guard the same cgroups with different locks.
  const std::string& identity() const { return identity_; }
  // The limits the record found, when it said "ready"; nullopt for anything else.
  const std::optional<AppliedLimits>& ready() const { return ready_; }
  // Before touching the slot's cgroups: a holder that dies from here on leaves "busy".
  Result<void> mark_busy();
  // When giving the slot back clean, with the limits its cgroups hold.
  Result<void> mark_ready(const AppliedLimits& limits);

 private:
  SlotRecord(uint32_t index, std::string identity, UniqueFd fd, std::optional<AppliedLimits> ready)
      : index_(index), identity_(std::move(identity)), fd_(std::move(fd)), ready_(ready) {}
  Result<void> store(std::string text);

  uint32_t index_ = 0;
  std::string identity_;
  UniqueFd fd_;
  std::optional<AppliedLimits> ready_;
};

}  // namespace isol8::cgroups
