#include "common/iso_time.h"

#include <chrono>

#include <fmt/format.h>

namespace isol8 {

std::string iso_timestamp_now() {
  // Calendar arithmetic on the UTC clock: gmtime_r would first read and parse /etc/localtime
  // (glibc's tzset, at the first call of every process), a file open at the end of every run
  // for a time zone UTC does not use.
  using namespace std::chrono;
  const auto now = time_point_cast<milliseconds>(system_clock::now());
  const auto day = floor<days>(now);
  const year_month_day date{day};
  const hh_mm_ss time{now - day};
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", static_cast<int>(date.year()),
                     static_cast<unsigned>(date.month()), static_cast<unsigned>(date.day()),
                     time.hours().count(), time.minutes().count(), time.seconds().count(),
                     time.subseconds().count());
}

}  // namespace isol8
