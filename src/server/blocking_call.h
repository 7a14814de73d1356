#pragma once
// Runs a blocking call (file transfer into a session, stopping a sandbox) on a worker pool and
// awaits its result on the network thread.

#include <functional>
#include <memory>
#include <optional>

#include <utility>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "isol8/result.h"
#include "server/executor.h"
#include "server/http_error.h"

namespace isol8::server {

template <class T>
boost::asio::awaitable<Result<T>> run_blocking(boost::asio::io_context& ioc, Executor& pool,
                                               const std::function<Result<T>()>& call) {
  struct Shared {
    explicit Shared(boost::asio::io_context& io) : timer(io) {
      timer.expires_at(boost::asio::steady_timer::time_point::max());
    }
    boost::asio::steady_timer timer;
    std::optional<Result<T>> result;
  };
  auto shared = std::make_shared<Shared>(ioc);
  const bool queued = pool.submit([&ioc, shared, call] {
    auto result = std::make_shared<Result<T>>(call());
    boost::asio::post(ioc, [shared, result] {
      shared->result.emplace(std::move(*result));
      shared->timer.cancel();
    });
  });
  if (!queued) co_return http_error(503, "Server busy: too many operations queued, retry later");
  while (!shared->result) {
    boost::system::error_code ec;
    co_await shared->timer.async_wait(boost::asio::redirect_error(boost::asio::use_awaitable, ec));
  }
  co_return std::move(*shared->result);
}

}  // namespace isol8::server
