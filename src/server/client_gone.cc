#include "server/client_gone.h"

#include <sys/socket.h>

#include <cerrno>
#include <utility>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>

#include "server/awaitable.h"

namespace isol8::server {

void ClientGone::on_gone(std::function<void()> stop) {
  if (gone_) {
    stop();
    return;
  }
  stop_ = std::move(stop);
}

void ClientGone::notify() {
  if (gone_) return;
  gone_ = true;
  if (stop_) stop_();
}

std::function<void()> watch_client(boost::asio::ip::tcp::socket& socket,
                                   std::shared_ptr<ClientGone> gone) {
  auto watching = std::make_shared<bool>(true);
  auto watch = [](boost::asio::ip::tcp::socket& s, std::shared_ptr<ClientGone> g,
                  std::shared_ptr<bool> w) -> boost::asio::awaitable<void> {
    boost::system::error_code ec;
    co_await s.async_wait(boost::asio::ip::tcp::socket::wait_read, with(ec));
    if (ec || !*w) co_return;
    char byte = 0;
    const ssize_t n = ::recv(s.native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) g->notify();
  };
  boost::asio::co_spawn(socket.get_executor(), watch(socket, std::move(gone), watching),
                        boost::asio::detached);
  return [&socket, watching] {
    if (!*watching) return;
    *watching = false;
    boost::system::error_code ignored;
    socket.cancel(ignored);  // ends the pending wait
  };
}

}  // namespace isol8::server
