#pragma once
// The live stdin of one WebSocket execution (the execute message's `"stdinStream": true`): a
// connected socket pair. The engine feeds the program's stdin from one end (RunControl::stdin_fd,
// owned by the execution); the data of the client's stdin messages goes into the other, here, on
// the network thread, without ever blocking it. What the socket cannot take yet (the program
// reads slower than the client writes, or not at all) waits here up to a cap: beyond it a message
// is refused, and the client told, rather than the server's memory growing without bound.
// A socket pair rather than a pipe: send(MSG_NOSIGNAL) to an end that is gone is EPIPE, never a
// SIGPIPE for the whole server.

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>

#include "common/unique_fd.h"
#include "isol8/result.h"

namespace isol8::server {

class LiveStdin : public std::enable_shared_from_this<LiveStdin> {
 public:
  struct Opened {
    std::shared_ptr<LiveStdin> writer;
    UniqueFd engine_end;  // for RunControl::stdin_fd; kept open until the run returns
  };
  // `cap`: the most bytes that may wait here for the program.
  static Result<Opened> open(boost::asio::io_context& ioc, size_t cap);

  enum class Accepted { kQueued, kOverCap, kClosed };
  // Queues `data` for the program (all of it, or nothing beyond the cap, or nothing once closed).
  Accepted write(std::string_view data);
  // The program's EOF, once what waits has been written.
  void finish();
  // Closes now, dropping what waits: the execution is over, or nothing more can reach it.
  void abort();
  bool closed() const { return closed_ || finishing_; }
  size_t waiting() const { return queue_.size() - written_; }
  size_t cap() const { return cap_; }

  LiveStdin(boost::asio::io_context& ioc, UniqueFd our_end, size_t cap);

 private:
  // Sends what the socket takes now; when it is full, comes back once it has room.
  void flush();

  boost::asio::posix::stream_descriptor socket_;
  std::string queue_;
  size_t written_ = 0;  // of queue_
  const size_t cap_;
  bool finishing_ = false;
  bool closed_ = false;
  bool waiting_for_room_ = false;
};

}  // namespace isol8::server
