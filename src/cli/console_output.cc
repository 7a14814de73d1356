#include "cli/console_output.h"

#include <unistd.h>

#include <cerrno>

namespace isol8::cli {

void ConsoleOutput::write(Stream stream, std::string_view data) {
  if (closed_[stream]) return;
  const int fd = stream == kOut ? STDOUT_FILENO : STDERR_FILENO;
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EPIPE) {
      closed_[stream] = true;
      interrupts_.note_output_closed();
      return;
    }
    if (n <= 0) return;  // a full disk, a revoked terminal: nothing more to be done about it
    data.remove_prefix(static_cast<size_t>(n));
  }
}

}  // namespace isol8::cli
