#pragma once
// The coroutine plumbing the server's connection code shares.

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/system/error_code.hpp>

namespace isol8::server {

// A completion token for co_await that stores the error in `ec` instead of throwing: a closed or
// timed-out peer is an ordinary outcome on a server, not an exception.
inline auto with(boost::system::error_code& ec) {
  return boost::asio::redirect_error(boost::asio::use_awaitable, ec);
}

}  // namespace isol8::server
