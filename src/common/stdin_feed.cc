#include "common/stdin_feed.h"

#include <unistd.h>

#include <cerrno>

namespace isol8 {

void StdinFeed::refill() {
  if (source_fd_ < 0 || !pending_.empty()) return;
  constexpr size_t kChunk = 64 * 1024;
  buffer_.resize(kChunk);
  const ssize_t n = ::read(source_fd_, buffer_.data(), buffer_.size());
  if (n > 0) {
    pending_ = std::string_view(buffer_.data(), static_cast<size_t>(n));
  } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
    source_fd_ = -1;  // EOF; an unreadable source ends the same way, rather than hang the run
  }
}

}  // namespace isol8
