#pragma once
// Step 2 of the spawn sequence, seccomp part: a parsed profile -> libseccomp -> classic BPF, done
// in the parent before clone. The child only hands fprog() to prctl(PR_SET_SECCOMP), right before
// execve; it never calls libseccomp.
//
// How the Docker format is applied (the same choices as moby/runc, unless noted):
// * Architectures: the native one, plus the subArchitectures of the archMap entry for the native
//   one, plus every entry of the legacy "architectures" list. Syscalls of any other ABI get the
//   bad-arch action, SCMP_ACT_KILL_PROCESS: on x86_64 that covers i386 (int $0x80) and x32
//   (syscall numbers with bit 30 set) unless the profile lists them. A foreign ABI is a filter
//   bypass attempt, not something a sandboxed runtime does, so the process dies with SIGSYS
//   instead of seeing an errno it might work around.
// * Names that libseccomp or this architecture does not know are skipped (listed in
//   SeccompProgram::skipped()); they keep the default action.
// * includes/excludes: arches match the native architecture's Go name ("amd64"); the sandbox holds
//   no capabilities, so a rule that includes caps is skipped and a rule that excludes caps
//   applies; minKernel compares with the running kernel.
// * Args: all must hold; when two args name the same index (which libseccomp cannot AND), each
//   arg becomes a rule of its own, as runc does.
// * A rule whose action equals the default action is skipped (libseccomp rejects it).
// * Profile flags are accepted but have no effect: prctl(PR_SET_SECCOMP) takes none, which keeps
//   the kernel's speculative-store-bypass mitigation on and logs nothing extra.

#include <linux/filter.h>

#include <string>
#include <vector>

#include "isol8/result.h"
#include "seccomp/profile.h"

namespace isol8 {

// A compiled filter: owns the BPF instructions and the sock_fprog that points at them. Move-only,
// so that fprog() stays valid exactly as long as the program it belongs to.
class SeccompProgram {
 public:
  SeccompProgram(std::vector<sock_filter> instructions, std::vector<std::string> skipped);
  SeccompProgram(SeccompProgram&& other) noexcept;
  SeccompProgram& operator=(SeccompProgram&& other) noexcept;
  SeccompProgram(const SeccompProgram&) = delete;
  SeccompProgram& operator=(const SeccompProgram&) = delete;
  ~SeccompProgram() = default;

  // For prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, fprog()) in the child.
  const sock_fprog* fprog() const { return &fprog_; }
  const std::vector<sock_filter>& instructions() const { return instructions_; }
  size_t size() const { return instructions_.size(); }
  // Syscall names of the profile that this kernel/libseccomp/architecture does not know.
  const std::vector<std::string>& skipped() const { return skipped_; }

 private:
  void point_fprog();

  std::vector<sock_filter> instructions_;
  std::vector<std::string> skipped_;
  sock_fprog fprog_{};
};

// How the program is laid out; both decide every syscall alike.
enum class SeccompLayout {
  // libseccomp's program, behind a front that allows the profile's unconditionally allowed
  // syscalls by ranges of numbers (seccomp/allow_ranges.h), where that applies: about a third
  // of the instructions for the default profile.
  kAllowRanges,
  // libseccomp's program for the whole profile.
  kLibseccompOnly,
};

// Compiles a profile for the native architecture. Errors name the rule and the syscall.
Result<SeccompProgram> compile_seccomp_profile(const SeccompProfile& profile,
                                               SeccompLayout layout = SeccompLayout::kAllowRanges);

// The libseccomp pseudo-filter-code text of the compiled profile (for debugging and doctor).
Result<std::string> seccomp_profile_pfc(const SeccompProfile& profile);

}  // namespace isol8
