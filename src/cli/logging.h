#pragma once

namespace isol8::cli {

// One stderr logger for the whole process, in upstream's format: "[WARN] ...", "[DEBUG] ...".
// Program output never goes through it, so stdout stays the program's alone.
void setup_logging(bool debug);

}  // namespace isol8::cli
