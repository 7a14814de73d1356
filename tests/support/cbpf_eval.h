#pragma once
// A classic BPF interpreter for seccomp programs, for tests that compare what two filters decide
// without loading them: the instructions libseccomp and the allow-range front emit (loads of
// seccomp_data, ALU, conditional jumps, returns, the scratch memory). An instruction outside
// seccomp's set, a jump out of the program or a missing return is an error, never a decision.

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
