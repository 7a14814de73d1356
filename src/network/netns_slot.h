#pragma once
// Network namespaces made ahead for one-shot loopback-only runs (`--net none`, and the filtered
// mode's relay). A new network namespace costs about 0.4 ms of a 4 ms `isol8 run` (its loopback
// device and per-namespace sysctl tables), and the runner would wait for it inside clone3.
// Instead, a run starts its sandbox in a namespace that an earlier run made in the run's slot,
// and while its own sandbox runs (when the runner only waits) a thread makes the slot's next one.
//
// Each namespace serves one sandbox, never two. A slot is <dir>/slot-<n>, where a bind mount
// keeps its namespace, and <dir>/slot-<n>.lock, held with flock() (common/slot_lock_file.h) and
// holding the slot's record: "fresh <namespace inode> <user namespace inode>" is written by the
// holder that made the namespace, after mounting it, and nothing else ever vouches for one. A
// holder takes a namespace only when the record names exactly the one mounted there, and writes
// "used" before anything enters it; its refill then unmounts it and makes the next. A holder
// killed in between leaves "used", and the next run makes a namespace of its own in clone3 (and
// refills the slot). A namespace made ahead has loopback up and was entered by nothing but the
// thread that made it. They belong to the runner's user namespace, as a veth run's do, so the
// sandbox (in a user namespace of its own) cannot change them. `isol8 cleanup` unmounts the idle
// ones.

#include <cstdint>
#include <filesystem>
#include <optional>
#include <thread>

#include "common/unique_fd.h"
#include "isol8/result.h"

namespace isol8 {

class NetnsSlot {
 public:
  static constexpr const char* kDefaultDir = "/run/isol8/netns";

  // Claims the first free slot of [0, count) in `dir`, taking the namespace it holds; nullopt
  // when every slot is held.
  static Result<std::optional<NetnsSlot>> claim(const std::filesystem::path& dir, uint32_t count);

  NetnsSlot(NetnsSlot&&) = default;
  NetnsSlot& operator=(NetnsSlot&&) = default;
  // Refills the slot when the run did not (an error before its sandbox started), and waits for
  // the refill, whose thread holds the lock until it is done.
  ~NetnsSlot();

  uint32_t index() const { return index_; }
  // The namespace an earlier run made in this slot, marked used (this run's alone); -1 when the
  // slot held none this run may enter.
  int prepared() const { return prepared_.get(); }
  // Makes the slot's next namespace on a thread of its own (loopback up, bind-mounted at the
  // slot), which takes the lock with it; the destructor waits for it. A failure only leaves the
  // slot without one (logged at debug). Once per slot. Best called once the sandbox's root is
  // built: a new network namespace is about 0.4 ms of kernel work, and while a CPU does it, RCU
  // grace periods wait for it, among them the one the sandbox's pivot_root needs (0.1 to 0.3 ms
  // later when they overlap, measured). A new thread, placed on an idle CPU; a thread woken
  // then would be placed where it last ran, which may be the program's.
  void refill_in_background();

  // For `isol8 cleanup`: unmounts the namespaces of the slots in `dir` that no run holds; returns
  // how many. A directory this user cannot read (only root's runs make slots) has none to remove.
  static Result<size_t> remove_idle(const std::filesystem::path& dir);

 private:
  NetnsSlot(uint32_t index, std::filesystem::path mount_point, UniqueFd lock, UniqueFd prepared)
      : index_(index),
        mount_point_(std::move(mount_point)),
        lock_(std::move(lock)),
        prepared_(std::move(prepared)) {}

  uint32_t index_ = 0;
  std::filesystem::path mount_point_;
  UniqueFd lock_;  // moved to the refill's thread when it starts
  UniqueFd prepared_;
  std::jthread refill_;
};

}  // namespace isol8
