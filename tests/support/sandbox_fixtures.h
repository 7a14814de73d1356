#pragma once
// Fixtures for tests that make real sandboxes: NativeTest skips (saying why) where sandboxes
// cannot be made; LeakCheckedTest also fails a test that leaves a sandbox process or a host mount
// behind. Both are for TEST_F; backend_params.h has their per-backend (TEST_P) form.

#include <cstddef>
#include <cstdint>
#include <string>

#include <gtest/gtest.h>

#include "isol8/engine.h"
#include "support/cli.h"

namespace isol8::test {

// "" when sandboxes can be created here (root, or unprivileged user namespaces work), else why
// not. The user-namespace check runs in a throwaway child so that this process stays as it was.
std::string sandbox_unavailable_reason();

// Root maps sandbox uid 0..65535 to id_map_base..+65535; without root the map is a single id or
// a subordinate range, so checks that name a host uid only hold for root.
bool privileged_id_map();

inline constexpr uint32_t kDefaultIdMapBase = 1000000;
inline constexpr uint32_t kSandboxUid = 100;
inline constexpr uint32_t kSandboxGid = 101;

// An id map base no other test process (ctest -j) or a benchmark running meanwhile uses, so that
// counting the processes of "our" host uid is not disturbed by other sandboxes.
uint32_t unique_id_map_base();

// Skips (with the reason) where sandboxes cannot be created.
class NativeTest : public ::testing::Test {
 protected:
  void SetUp() override;
};

// Also checks that the test leaves nothing behind: no process with the sandbox's host uid (for
// the id map base `base()`, unique to this test process) and the same number of host mounts.
// Runs should use cli() (or options()) so that their sandboxes use that base.
class LeakCheckedTest : public NativeTest {
 protected:
  void SetUp() override;
  void TearDown() override;

  // SIGKILLs the processes that carry this test's sandbox uid (only sandboxes this test process
  // started can: the id map base is its own), then waits a little for them to be gone.
  void kill_leftovers() const;

  // The host mounts the leak check compares (all of them here).
  virtual size_t counted_mounts() const;

  uint32_t base() const { return base_; }
  // base() + the sandbox uid with a privileged id map; -2 (no process has it) without one.
  long sandbox_host_uid() const;
  // The CLI in a temp cwd/HOME whose config sets base().
  const IsolatedCli& cli() const { return cli_; }
  // Engine options with base() (the native backend, unless a caller sets another).
  Options options() const;

 private:
  uint32_t base_ = unique_id_map_base();
  IsolatedCli cli_{base_};
  size_t mounts_before_ = 0;
  size_t procs_before_ = 0;
};

}  // namespace isol8::test
