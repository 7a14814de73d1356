#include "backends/docker/stream_pump.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

namespace isol8::docker {
namespace {

using Clock = std::chrono::steady_clock;

int remaining_ms(Clock::time_point deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  if (left.count() <= 0) return 0;
  return static_cast<int>(std::min<int64_t>(left.count() + 1, 1 << 30));
}

}  // namespace

Result<PumpOutcome> pump_stream(HijackedStream& stream, std::string_view payload,
                                const Clock::time_point& deadline, int cancel_fd,
                                FrameDemuxer& demux) {
  ISOL8_TRY(demux.feed(stream.pending));
  stream.pending.clear();
  const int fd = stream.fd.get();
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);

  size_t written = 0;
  bool write_open = true;
  auto close_write = [&] {
    if (write_open) ::shutdown(fd, SHUT_WR);
    write_open = false;
  };
  if (payload.empty()) close_write();

  char buf[64 * 1024];
  PumpOutcome outcome;
  for (;;) {
    pollfd fds[2] = {{fd, static_cast<short>(POLLIN | (write_open ? POLLOUT : 0)), 0},
                     {cancel_fd, POLLIN, 0}};
    const int timeout = remaining_ms(deadline);
    if (timeout == 0) {
      outcome.timed_out = true;
      return outcome;
    }
    const int n = ::poll(fds, cancel_fd >= 0 ? 2 : 1, timeout);
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno_error("poll on the Docker attach stream");
    }
    if (n == 0) continue;  // re-checks the deadline
    if (cancel_fd >= 0 && (fds[1].revents & POLLIN) != 0) {
      outcome.cancelled = true;
      return outcome;
    }
    if (write_open && (fds[0].revents & (POLLOUT | POLLERR | POLLHUP)) != 0) {
      const ssize_t w = ::send(fd, payload.data() + written, payload.size() - written,
                               MSG_NOSIGNAL | MSG_DONTWAIT);
      if (w > 0) {
        written += static_cast<size_t>(w);
        if (written == payload.size()) close_write();
      } else if (w < 0 && errno != EAGAIN && errno != EINTR) {
        close_write();  // the process no longer reads its stdin
      }
    }
    if ((fds[0].revents & (POLLIN | POLLHUP | POLLERR)) != 0) {
      const ssize_t r = ::read(fd, buf, sizeof buf);
      if (r == 0) return outcome;
      if (r < 0) {
        if (errno == EAGAIN || errno == EINTR) continue;
        if (errno == ECONNRESET) return outcome;
        return errno_error("read from the Docker attach stream");
      }
      ISOL8_TRY(demux.feed(std::string_view(buf, static_cast<size_t>(r))));
    }
  }
}

void drain_stream(HijackedStream& stream, std::chrono::milliseconds grace, FrameDemuxer& demux) {
  const auto deadline = Clock::now() + grace;
  char buf[64 * 1024];
  for (;;) {
    pollfd p{stream.fd.get(), POLLIN, 0};
    const int timeout = remaining_ms(deadline);
    if (timeout == 0 || ::poll(&p, 1, timeout) <= 0) return;
    const ssize_t r = ::read(stream.fd.get(), buf, sizeof buf);
    if (r <= 0) return;
    if (!demux.feed(std::string_view(buf, static_cast<size_t>(r)))) return;
  }
}

}  // namespace isol8::docker
