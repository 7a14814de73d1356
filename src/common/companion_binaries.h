#pragma once
// isol8's other executables and data, found from the running binary, so that a build tree and an
// installation both work without configuration:
//   isol8-relay (src/relay): the in-sandbox end of the filtered network for sandboxes that have
//     only loopback (rootless native runs, Docker containers). $ISOL8_RELAY (an explicit path,
//     for embedders and tests), <exe dir>/isol8-relay, <exe dir>/../relay/isol8-relay (build
//     tree: build/src/cli/isol8), <exe dir>/../libexec/isol8/isol8-relay (installed).
//   isol8-full (src/cli): every command; the isol8 binary runs only local native runs itself and
//     hands everything else to it. <exe dir>/isol8-full (build tree),
//     <exe dir>/../libexec/isol8/isol8-full (installed).
//   <prefix>/share/isol8/profiles: for a binary installed in <prefix>/bin or
//     <prefix>/libexec/isol8.

#include <filesystem>

#include "isol8/result.h"

namespace isol8 {

// Each: the first candidate that is an executable regular file; else an error naming every
// place that was searched.
Result<std::filesystem::path> find_relay_binary();
Result<std::filesystem::path> find_full_binary();

// <prefix>/share/isol8/profiles of the running binary; it may not exist (a build tree). Empty
// when /proc/self/exe is unreadable: never a relative path, which would read profiles from the
// working directory.
std::filesystem::path installed_profiles_dir();

}  // namespace isol8
