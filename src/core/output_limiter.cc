#include "core/output_limiter.h"

#include <fmt/format.h>

namespace isol8 {

std::string_view OutputLimiter::admit(std::string_view data) {
  total_ += data.size();
  if (truncated_) return {};
  if (kept_ + data.size() <= limit_) {
    kept_ += data.size();
    return data;
  }
  truncated_ = true;
  size_t room = static_cast<size_t>(limit_ - kept_);
  // Back off to the start of a UTF-8 sequence (continuation bytes are 10xxxxxx).
  while (room > 0 && room < data.size() &&
         (static_cast<unsigned char>(data[room]) & 0xC0) == 0x80) {
    --room;
  }
  kept_ += room;
  return data.substr(0, room);
}

std::string OutputLimiter::marker() const {
  return fmt::format("\n\n--- OUTPUT TRUNCATED ({} bytes, limit: {}) ---", total_, limit_);
}

}  // namespace isol8
