#pragma once

#include <string>

namespace isol8 {

// A random UUID v4 from the kernel's CSPRNG.
std::string make_uuid_v4();
// Now, as ISO 8601 in UTC with milliseconds: 2026-11-26T09:42:15.123Z
std::string iso_timestamp_now();

}  // namespace isol8
