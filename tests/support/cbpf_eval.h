#pragma once
// A classic BPF interpreter for seccomp programs, for tests that compare what two filters decide
// without loading them: the instructions libseccomp and the allow-range front emit (loads of
// seccomp_data, ALU, conditional jumps, returns, the scratch memory). An instruction outside
// seccomp's set (BPF_MOD included, which the kernel's seccomp checker refuses), or running off
// the end of the program, is an error, never a decision. It checks only the path a packet
// takes: unlike the kernel's loader, not every jump and not stores before loads.

#include <linux/filter.h>
#include <linux/seccomp.h>

#include <cstdint>
#include <span>
#include <string>
#include <variant>

namespace isol8::test {

// The SECCOMP_RET_* value the program returns for `data`, or what was wrong with the program.
std::variant<uint32_t, std::string> run_seccomp_bpf(std::span<const sock_filter> program,
                                                    const seccomp_data& data);

}  // namespace isol8::test
