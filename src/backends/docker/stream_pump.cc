#include "backends/docker/stream_pump.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>

#include "common/stdin_feed.h"

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
                                FrameDemuxer& demux, int stdin_source) {
  ISOL8_TRY(demux.feed(stream.pending));
  stream.pending.clear();
  const int fd = stream.fd.get();
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);

  StdinFeed feed(payload, stdin_source);
  bool write_open = true;
  auto close_write = [&] {
    if (write_open) ::shutdown(fd, SHUT_WR);
    write_open = false;
  };
  if (feed.done()) close_write();

  char buf[64 * 1024];
  PumpOutcome outcome;
  for (;;) {
    const bool writing = write_open && !feed.pending().empty();
    const int source = write_open ? feed.source_to_poll() : -1;
    std::array<pollfd, 3> fds{};
    size_t n = 0;
    auto add = [&](int f, short events) -> int {
      if (f < 0) return -1;
      fds[n] = {f, events, 0};
      return static_cast<int>(n++);
    };
    const int i_stream = add(fd, static_cast<short>(POLLIN | (writing ? POLLOUT : 0)));
    const int i_cancel = add(cancel_fd, POLLIN);
    const int i_source = add(source, POLLIN);
    const int timeout = remaining_ms(deadline);
    if (timeout == 0) {
      outcome.timed_out = true;
      return outcome;
    }
    const int ready = ::poll(fds.data(), n, timeout);
    if (ready < 0) {
      if (errno == EINTR) continue;
      return errno_error("poll on the Docker attach stream");
    }
    if (ready == 0) continue;  // re-checks the deadline
    auto fired = [&](int i, short events) { return i >= 0 && (fds[i].revents & events) != 0; };
    if (fired(i_cancel, POLLIN)) {
      outcome.cancelled = true;
      return outcome;
    }
    if (writing && fired(i_stream, POLLOUT | POLLERR | POLLHUP)) {
      const std::string_view bytes = feed.pending();
      const ssize_t w = ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
      if (w > 0) {
        feed.consumed(static_cast<size_t>(w));
      } else if (w < 0 && errno != EAGAIN && errno != EINTR) {
        feed.abandon();  // the process no longer reads its stdin
      }
      if (feed.done()) close_write();
    }
    if (fired(i_source, POLLIN | POLLHUP | POLLERR | POLLNVAL)) {
      feed.refill();
      if (feed.done()) close_write();
    }
    if (fired(i_stream, POLLIN | POLLHUP | POLLERR)) {
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
