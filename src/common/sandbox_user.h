#pragma once
// The user every sandbox runs its code as, on both backends: uid 100 and gid 101, as upstream's
// images define it. The one place these numbers are written.

#include <cstdint>
#include <string>

namespace isol8 {

inline constexpr uint32_t kSandboxUid = 100;
inline constexpr uint32_t kSandboxGid = 101;

// Docker's "uid:gid" form of the same ids.
inline const std::string kSandboxUser =
    std::to_string(kSandboxUid) + ":" + std::to_string(kSandboxGid);

}  // namespace isol8
