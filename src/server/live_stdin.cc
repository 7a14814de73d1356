#include "server/live_stdin.h"

#include <sys/socket.h>

#include <cerrno>

namespace isol8::server {

Result<LiveStdin::Opened> LiveStdin::open(boost::asio::io_context& ioc, size_t cap) {
  int fds[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) {
    return errno_error("socketpair for the live stdin");
  }
  UniqueFd engine_end(fds[0]);
  UniqueFd our_end(fds[1]);
  // The engine only reads, so its end can say so: our end's EOF is then the program's.
  ::shutdown(engine_end.get(), SHUT_WR);
  return Opened{std::make_shared<LiveStdin>(ioc, std::move(our_end), cap), std::move(engine_end)};
}

LiveStdin::LiveStdin(boost::asio::io_context& ioc, UniqueFd our_end, size_t cap)
    : socket_(ioc, our_end.release()), cap_(cap) {
  socket_.non_blocking(true);
}

LiveStdin::Accepted LiveStdin::write(std::string_view data) {
  if (closed()) return Accepted::kClosed;
  if (data.size() > cap_ - waiting()) return Accepted::kOverCap;
  if (written_ > 0 && written_ == queue_.size()) {
    queue_.clear();
    written_ = 0;
  }
  queue_.append(data);
  flush();
  return Accepted::kQueued;
}

void LiveStdin::finish() {
  if (closed()) return;
  finishing_ = true;
  flush();
}

void LiveStdin::abort() {
  if (closed_) return;
  closed_ = true;
  queue_.clear();
  queue_.shrink_to_fit();
  written_ = 0;
  boost::system::error_code ignored;
  socket_.close(ignored);  // also ends a wait for room
}

void LiveStdin::flush() {
  if (closed_) return;
  while (written_ < queue_.size()) {
    const ssize_t n = ::send(socket_.native_handle(), queue_.data() + written_,
                             queue_.size() - written_, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      written_ += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      // Full: the program has not read yet. What was sent stops counting against the cap.
      queue_.erase(0, written_);
      written_ = 0;
      if (!waiting_for_room_) {
        waiting_for_room_ = true;
        socket_.async_wait(boost::asio::posix::stream_descriptor::wait_write,
                           [self = shared_from_this()](const boost::system::error_code& ec) {
                             self->waiting_for_room_ = false;
                             if (!ec) self->flush();
                           });
      }
      return;
    }
    abort();  // the engine's end is gone: the run is over
    return;
  }
  queue_.clear();
  written_ = 0;
  if (finishing_) abort();  // everything went: closing our end is the program's EOF
}

}  // namespace isol8::server
