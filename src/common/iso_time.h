#pragma once
// The one timestamp format of isol8 (results, network logs, manifests, build logs).

#include <string>

namespace isol8 {

// Now, as ISO 8601 in UTC with milliseconds: 2026-11-26T09:42:15.123Z
std::string iso_timestamp_now();

}  // namespace isol8
