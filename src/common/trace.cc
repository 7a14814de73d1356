#include "common/trace.h"

#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>

namespace isol8::trace {
namespace {

int64_t now_us() {
  struct timespec ts;
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000 + ts.tv_nsec / 1000;
}

// The trace's clock: the first mark's time and the previous mark's. Diagnostic state only, so a
// race between two threads' marks can at worst misstate one delta.
struct Clock {
  std::atomic<int64_t> first{0};
  std::atomic<int64_t> last{0};
};

Clock& clock() {
  static Clock c;
  return c;
}

}  // namespace

bool enabled() {
  static const bool on = [] {
    const char* v = std::getenv("ISOL8_TRACE");
    return v != nullptr && *v != '\0' && !(v[0] == '0' && v[1] == '\0');
  }();
  return on;
}

void mark(const char* phase) {
  if (!enabled()) return;
  const int64_t t = now_us();
  Clock& c = clock();
  int64_t expected = 0;
  c.first.compare_exchange_strong(expected, t);
  const int64_t previous = c.last.exchange(t);
  const int64_t since_first = t - c.first.load();
  const int64_t delta = previous == 0 ? 0 : t - previous;
  char line[256];
  const int n =
      std::snprintf(line, sizeof line, "isol8 trace: %7lld us  (+%lld)  %s\n",
                    static_cast<long long>(since_first), static_cast<long long>(delta), phase);
  if (n > 0)
    (void)!::write(STDERR_FILENO, line, static_cast<size_t>(n) < sizeof line ? n : sizeof line - 1);
}

}  // namespace isol8::trace
