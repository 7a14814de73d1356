#pragma once
// The session relay tests' loopback: a fake owner node and a tiny front that calls the relay, both
// coroutines on an io_context of their own thread, while the test thread plays the client with
// blocking sockets. Nothing leaves 127.0.0.1.

// Boost 1.74's asio/awaitable.hpp uses std::exchange without including <utility>.
#include <utility>

#include <sys/socket.h>

#include <gtest/gtest.h>

#include <chrono>
#include <exception>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace isol8::server::relay_test {

namespace asio = boost::asio;
using asio::ip::tcp;

// How long the test thread waits for a step before calling it a hang: a guard against a relay
// that holds data back (which would wait forever), not a claim about speed.
inline constexpr std::chrono::seconds kHangGuard{30};

// A result handed from the io thread to the test thread.
template <class T>
using Handoff = std::shared_ptr<std::promise<T>>;

template <class T>
Handoff<T> handoff() {
  return std::make_shared<std::promise<T>>();
}

template <class T>
std::optional<T> take(const Handoff<T>& h) {
  auto future = h->get_future();
  if (future.wait_for(kHangGuard) != std::future_status::ready) return std::nullopt;
  return future.get();
}

// A one-way signal from the test thread to a coroutine on the io thread.
class Gate {
 public:
  explicit Gate(asio::io_context& ioc) : timer_(ioc) {
    timer_.expires_at(asio::steady_timer::time_point::max());
  }
  void open() {
    asio::post(timer_.get_executor(), [this] {
      open_ = true;
      timer_.cancel();
    });
  }
  asio::awaitable<void> passed() {
    while (!open_) {
      boost::system::error_code ec;
      co_await timer_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }
  }

 private:
  asio::steady_timer timer_;
  bool open_ = false;  // touched on the io thread only
};

class RelayLoopback : public ::testing::Test {
 protected:
  RelayLoopback() : thread_([this] { ioc_.run(); }) {}
  ~RelayLoopback() override {
    work_.reset();
    ioc_.stop();
    thread_.join();
  }

  std::string owner_url() const {
    return "http://127.0.0.1:" + std::to_string(owner_.local_endpoint().port());
  }
  unsigned short front_port() const { return front_.local_endpoint().port(); }

  // Runs `coroutine` on the io thread; an exception in it fails the test.
  void spawn(asio::awaitable<void> coroutine) {
    asio::co_spawn(ioc_, std::move(coroutine), [](std::exception_ptr e) {
      if (!e) return;
      try {
        std::rethrow_exception(e);
      } catch (const std::exception& x) {
        ADD_FAILURE() << "a loopback coroutine threw: " << x.what();
      }
    });
  }

  // A blocking socket of the test thread, connected to the front, under the hang guard: shut
  // down if the test still has it after kHangGuard, so that a blocked read fails instead of
  // hanging (SO_RCVTIMEO would not do: Asio's blocking reads poll again after it).
  tcp::socket connect_to_front() {
    tcp::socket socket(client_ioc_);
    socket.connect({asio::ip::make_address("127.0.0.1"), front_port()});
    asio::post(ioc_, [this, fd = socket.native_handle()] {
      auto guard = std::make_shared<asio::steady_timer>(ioc_, kHangGuard);
      // The test is over long before the guard fires (the fixture stops the loop), so the
      // descriptor is still the client's then.
      guard->async_wait([guard, fd](boost::system::error_code ec) {
        if (!ec) ::shutdown(fd, SHUT_RDWR);
      });
    });
    return socket;
  }

  static tcp::acceptor listen(asio::io_context& ioc) {
    return tcp::acceptor(ioc, {asio::ip::make_address("127.0.0.1"), 0});
  }

  asio::io_context ioc_;
  asio::executor_work_guard<asio::io_context::executor_type> work_ = asio::make_work_guard(ioc_);
  tcp::acceptor owner_ = listen(ioc_);
  tcp::acceptor front_ = listen(ioc_);
  Gate gate_{ioc_};
  asio::io_context client_ioc_;  // the test thread's blocking sockets

 private:
  std::thread thread_;
};

}  // namespace isol8::server::relay_test
