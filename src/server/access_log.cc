#include "server/access_log.h"

#include <unistd.h>

#include <nlohmann/json.hpp>

#include "common/iso_time.h"

namespace isol8::server {

std::string access_line(const AccessRecord& r) {
  const std::string_view path = r.target.substr(0, r.target.find('?'));
  nlohmann::json j = {
      {"time", iso_timestamp_now()},
      {"method", r.method},
      {"path", path},
      {"status", r.status},
      {"durationMs", std::chrono::duration<double, std::milli>(r.duration).count()},
      {"keyId", r.key_id.empty() ? nlohmann::json(nullptr) : nlohmann::json(r.key_id)},
      {"remote", r.remote},
  };
  // A path is client text: invalid UTF-8 is replaced, never thrown on.
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

void write_access_line(const AccessRecord& record) {
  std::string line = access_line(record) + "\n";
  // One write per line, so that lines from different threads never interleave.
  [[maybe_unused]] ssize_t n = ::write(STDERR_FILENO, line.data(), line.size());
}

}  // namespace isol8::server
