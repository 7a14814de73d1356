#pragma once
// A seccomp profile in Docker's JSON format (moby's profiles/seccomp/default.json), parsed into
// plain data. Parsing checks the shape and every enumerated value (actions, operators,
// architectures, flags) and names the offending rule; it does not look syscall names up, since
// which names exist depends on the kernel and libseccomp (the compiler skips unknown ones).
//
// Accepted keys: defaultAction, defaultErrnoRet (or defaultErrno: "EPERM"), architectures, archMap
// [{architecture, subArchitectures}], flags, syscalls [{names (or name), action, errnoRet (or
// errno), args [{index, value, valueTwo, op}], includes/excludes {arches, caps, minKernel},
// comment}]. Other keys are ignored, as Docker ignores them.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "isol8/result.h"

namespace isol8 {

enum class SeccompAction {
  kKillThread,   // SCMP_ACT_KILL, SCMP_ACT_KILL_THREAD
  kKillProcess,  // SCMP_ACT_KILL_PROCESS
  kTrap,         // SCMP_ACT_TRAP
  kErrno,        // SCMP_ACT_ERRNO (errno from errnoRet, EPERM when absent)
  kTrace,        // SCMP_ACT_TRACE (errnoRet is the message to the tracer)
  kLog,          // SCMP_ACT_LOG
  kAllow,        // SCMP_ACT_ALLOW
};

enum class SeccompCompare {
  kNotEqual,      // SCMP_CMP_NE
  kLessThan,      // SCMP_CMP_LT
  kLessEqual,     // SCMP_CMP_LE
  kEqual,         // SCMP_CMP_EQ
  kGreaterEqual,  // SCMP_CMP_GE
  kGreaterThan,   // SCMP_CMP_GT
  kMaskedEqual,   // SCMP_CMP_MASKED_EQ: (arg & value) == value_two
};

struct SeccompArg {
  unsigned index = 0;  // 0..5
  uint64_t value = 0;
  uint64_t value_two = 0;
  SeccompCompare op = SeccompCompare::kEqual;
};

// Docker's includes/excludes: a rule applies when every non-empty include matches and no
// non-empty exclude matches. Arches are Go names ("amd64", "x32", "386", "arm64", ...).
struct SeccompFilter {
  std::vector<std::string> arches;
  std::vector<std::string> caps;
  std::string min_kernel;  // "major.minor", empty when absent
};

struct SeccompRule {
  std::vector<std::string> names;
  SeccompAction action = SeccompAction::kAllow;
  std::optional<uint32_t> errno_ret;  // only for kErrno and kTrace
  std::vector<SeccompArg> args;       // all must hold (AND), see compiler.h for repeated indexes
  SeccompFilter includes;
  SeccompFilter excludes;
  std::string comment;
};

struct SeccompArchEntry {
  std::string architecture;                    // "SCMP_ARCH_X86_64"
  std::vector<std::string> sub_architectures;  // added to the filter when `architecture` is native
};

struct SeccompProfile {
  SeccompAction default_action = SeccompAction::kErrno;
  std::optional<uint32_t> default_errno_ret;
  std::vector<std::string> architectures;  // the legacy flat list; all of them are added
  std::vector<SeccompArchEntry> arch_map;
  std::vector<std::string> flags;  // SECCOMP_FILTER_FLAG_*; validated, see compiler.h
  std::vector<SeccompRule> syscalls;
};

// Parses a profile from JSON text. Errors name the rule, e.g.
// `syscalls[3] (ptrace): unknown action "SCMP_ACT_FOO"`.
Result<SeccompProfile> parse_seccomp_profile(std::string_view json_text);

// The libseccomp token of an SCMP_ARCH_* name, or nullopt when the name is unknown.
std::optional<uint32_t> seccomp_arch_token(std::string_view scmp_arch_name);

}  // namespace isol8
