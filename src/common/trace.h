#pragma once
// ISOL8_TRACE=1: one line per phase of a run on stderr, with the microseconds since the first
// mark (the CLI's main) and since the previous one, e.g.
//   isol8 trace:   2143 us  (+412)  native: clone3
// A measuring aid for finding where a one-shot run's time goes (see bench/). Off by default; when
// off, a mark costs one load of a cached flag. Marks come from the runner's threads only, never
// from a sandbox child (whose code must not write to the runner's stderr).

namespace isol8::trace {

// Whether ISOL8_TRACE is set to a non-empty value other than "0" (read once).
bool enabled();

// Prints the mark when tracing is on. `phase` is a short constant text.
void mark(const char* phase);

}  // namespace isol8::trace
