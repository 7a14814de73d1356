#pragma once
// One JSON line per request on stderr: time, method, path (without the query), status, duration,
// the key's id ("master", a DB key's id, or null). Never the key, the body or the code.

#include <chrono>
#include <string>
#include <string_view>

namespace isol8::server {

struct AccessRecord {
  std::string_view method;
  std::string_view target;  // the query is cut off here
  int status = 0;
  std::chrono::steady_clock::duration duration{};
  std::string_view key_id;  // empty: unauthenticated
  std::string_view remote;
};

// The line, without its newline.
std::string access_line(const AccessRecord& record);
void write_access_line(const AccessRecord& record);

}  // namespace isol8::server
