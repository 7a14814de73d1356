// host_filter_bench: how long one host-filter decision takes for a pattern that makes a
// backtracking engine take exponential time, `^(a|aa)*$`, against names of n a's and ".test"
// (no match, the worst case): std::regex (what the filter used before) against the filter's RE2
// patterns. A measurement, never a pass/fail test.
//
//   host_filter_bench [--regex-max N]   (std::regex is measured up to N characters; default 30)

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <regex>
#include <string>

#include "proxy/host_filter.h"

namespace {

using Clock = std::chrono::steady_clock;

std::string name_of(size_t length) { return std::string(length, 'a') + ".test"; }

// The mean time of one decision in microseconds, over enough repetitions to last ~0.2 s.
template <class Decide>
double micros_per_decision(Decide decide) {
  size_t reps = 1;
  for (;;) {
    const auto start = Clock::now();
    for (size_t i = 0; i < reps; ++i) decide();
    const double us = std::chrono::duration<double, std::micro>(Clock::now() - start).count();
    if (us > 200'000 || reps >= (size_t{1} << 24)) return us / static_cast<double>(reps);
    reps *= 4;
  }
}

}  // namespace

int main(int argc, char** argv) {
  size_t regex_max = 30;
  for (int i = 1; i + 1 < argc; ++i) {
    if (std::strcmp(argv[i], "--regex-max") == 0) regex_max = std::strtoul(argv[++i], nullptr, 10);
  }
  const std::string pattern = "^(a|aa)*$";
  auto filter = isol8::proxy::HostFilter::compile(isol8::NetworkFilter{{pattern}, {}});
  if (!filter) {
    std::fprintf(stderr, "%s\n", filter.error().message.c_str());
    return 1;
  }
  const std::regex backtracking(pattern, std::regex::ECMAScript | std::regex::icase);

  std::printf("pattern %s, name = n a's + \".test\" (not matched)\n", pattern.c_str());
  std::printf("%8s  %16s  %16s\n", "n", "std::regex us", "RE2 filter us");
  for (const size_t n : {10, 20, 22, 24, 26, 28, 30, 32, 34, 42, 253, 5000, 100000}) {
    const std::string name = name_of(n);
    volatile bool sink = false;
    const double re2_us = micros_per_decision([&] { sink = filter->allows(name); });
    if (n <= regex_max) {
      const double std_us =
          micros_per_decision([&] { sink = std::regex_search(name, backtracking); });
      std::printf("%8zu  %16.2f  %16.3f\n", n, std_us, re2_us);
    } else {
      std::printf("%8zu  %16s  %16.3f\n", n, "(skipped)", re2_us);
    }
    std::fflush(stdout);
  }
  return 0;
}
