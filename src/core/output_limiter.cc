#include "core/output_limiter.h"

#include <fmt/format.h>

namespace isol8 {
namespace {

bool is_continuation(char c) { return (static_cast<unsigned char>(c) & 0xC0) == 0x80; }

// Length of the UTF-8 sequence a lead byte starts, or 0 if it is no lead byte.
size_t sequence_length(char c) {
  const auto b = static_cast<unsigned char>(c);
  if ((b & 0xE0) == 0xC0) return 2;
  if ((b & 0xF0) == 0xE0) return 3;
  if ((b & 0xF8) == 0xF0) return 4;
  return 0;
}

// Where a character that is cut at `end` begins: `end` itself unless the last (at most 3)
// bytes before it are an incomplete UTF-8 sequence. Binary data is left alone.
size_t boundary_before(std::string_view s, size_t end) {
  for (size_t back = 1; back <= 3 && back <= end; ++back) {
    const char c = s[end - back];
    if (is_continuation(c)) continue;
    const size_t len = sequence_length(c);
    return (len > back) ? end - back : end;
  }
  return end;
}

}  // namespace

std::string OutputLimiter::admit(std::string_view data) {
  total_ += data.size();
  if (truncated_) return {};
  std::string buf = std::move(held_);
  held_.clear();
  buf.append(data);
  if (kept_ + buf.size() <= limit_) {
    const size_t cut = boundary_before(buf, buf.size());
    held_ = buf.substr(cut);
    buf.resize(cut);
    kept_ += buf.size();
    return buf;
  }
  truncated_ = true;
  const size_t room = static_cast<size_t>(limit_ - kept_);
  // At the cut, a character whose bytes straddle it is dropped whole.
  size_t cut = room;
  if (cut < buf.size() && is_continuation(buf[cut])) cut = boundary_before(buf, cut);
  buf.resize(cut);
  kept_ += cut;
  return buf;
}

std::string OutputLimiter::finish() {
  std::string rest = std::move(held_);
  held_.clear();
  if (truncated_ || kept_ + rest.size() > limit_) {
    if (!rest.empty()) truncated_ = true;
    return {};
  }
  kept_ += rest.size();
  return rest;
}

std::string OutputLimiter::marker() const {
  return fmt::format("\n\n--- OUTPUT TRUNCATED ({} bytes, limit: {}) ---", total_, limit_);
}

}  // namespace isol8
