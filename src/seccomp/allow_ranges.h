#pragma once
// A shorter front for an allow-list filter. libseccomp tests every allowed syscall with an
// instruction of its own: the default profile's 286 unconditional allows make 402 instructions,
// which the kernel checks and JIT-compiles at every sandbox start (about 0.1 ms) and which every
// syscall of the program walks. Most of them are runs of neighbouring numbers (36 for the default
// profile), so this front tests ranges by a binary search, returns ALLOW for them, and hands
// every other syscall, and every other architecture, to the program libseccomp compiled for the
// rest of the profile, unchanged. libseccomp has no ranges (its trees compare single numbers).

#include <linux/filter.h>

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

namespace isol8 {

// `rest` preceded by a front that returns SECCOMP_RET_ALLOW for the syscall numbers `allowed`
// of the architecture `audit_arch` (an AUDIT_ARCH_* value, which is also libseccomp's token)
// and jumps to the start of `rest` for anything else: another architecture, a number not in
// `allowed`, or one at or above 0x40000000 (x32's bit and negative numbers). Numbers in
// `allowed` at or above 0x40000000 are ignored. std::nullopt when there is nothing to allow or
// the front's jumps would not fit in classic BPF's 8-bit offsets (too many ranges); the caller
// then compiles the whole profile with libseccomp instead.
std::optional<std::vector<sock_filter>> with_allow_ranges(uint32_t audit_arch,
                                                          std::vector<uint32_t> allowed,
                                                          std::span<const sock_filter> rest);

}  // namespace isol8
