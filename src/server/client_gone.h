#pragma once
// A request's client hanging up before its reply: POST /execute stops the program then, instead
// of running it to its time limit for nobody (SSE and WebSocket notice through their writes).

#include <functional>
#include <memory>

#include <boost/asio/ip/tcp.hpp>

namespace isol8::server {

class ClientGone {
 public:
  // `stop` runs once the client is gone (at once when it already is). Network thread.
  void on_gone(std::function<void()> stop);
  void notify();

 private:
  std::function<void()> stop_;
  bool gone_ = false;
};

// Watches `socket` until the reply is due: an orderly close or a reset by the peer notifies
// `gone`. Bytes of a pipelined next request end the watch without notifying (they stay unread).
// The returned function ends the watch; call it before writing the reply.
std::function<void()> watch_client(boost::asio::ip::tcp::socket& socket,
                                   std::shared_ptr<ClientGone> gone);

}  // namespace isol8::server
