#pragma once
// Where isol8-relay (src/relay) is: the in-sandbox end of the filtered network for sandboxes
// that have only loopback (rootless native runs, Docker containers). It is looked up next to the
// running binary, so that a build tree and an installation both work without configuration:
//   $ISOL8_RELAY (an explicit path, for embedders and tests), <exe dir>/isol8-relay,
//   <exe dir>/../relay/isol8-relay (build tree: build/src/cli/isol8), and
//   <exe dir>/../libexec/isol8/isol8-relay (installed).

#include <filesystem>

#include "isol8/result.h"

namespace isol8 {

// The first candidate that is an executable regular file; else an error naming every place
// that was searched.
Result<std::filesystem::path> find_relay_binary();

}  // namespace isol8
