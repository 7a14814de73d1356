#pragma once

#include <string>

#include "common/iso_time.h"  // iso_timestamp_now, for the result's timestamp

namespace isol8 {

// A random UUID v4 from the kernel's CSPRNG.
std::string make_uuid_v4();

}  // namespace isol8
