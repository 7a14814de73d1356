#pragma once
// The default profile compiled to BPF at build time (by isol8_seccomp_bake), so that a run with
// the default profile starts without parsing JSON or calling libseccomp: about 2 ms of every
// CLI start. Used only while the profile text equals the embedded copy it was compiled from;
// any other text (an edited installed profile, a custom one) is compiled at run time.

#include <linux/filter.h>

#include <cstddef>
#include <span>

namespace isol8 {

// Empty when the default profile could not be baked (it uses minKernel rules, which depend on
// the kernel the binary runs on).
std::span<const sock_filter> baked_default_filter();

}  // namespace isol8
