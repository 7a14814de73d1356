#include "client/server_connection.h"

#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <exception>
#include <limits>
#include <optional>
#include <stdexcept>

#include <fmt/format.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>

namespace isol8::client {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;
using asio::use_awaitable;
using Awaitable = asio::awaitable<void>;

constexpr size_t kMaxHeaderBytes = 64 * 1024;

// What a call's coroutine leaves behind for the caller.
struct CallState {
  std::optional<Error> failure;  // set by the call itself (a refused upgrade, ...)
  bool cancelled = false;
};

Awaitable connect_tcp(beast::tcp_stream& stream, const ServerUrl& url, const CallLimits& limits) {
  tcp::resolver resolver(co_await asio::this_coro::executor);
  auto endpoints = co_await resolver.async_resolve(url.host, url.port, use_awaitable);
  stream.expires_after(limits.connect);
  co_await stream.async_connect(endpoints, use_awaitable);
}

Awaitable connect_tls(beast::ssl_stream<beast::tcp_stream>& stream, const ServerUrl& url,
                      const CallLimits& limits) {
  co_await connect_tcp(beast::get_lowest_layer(stream), url, limits);
  // SNI, and the certificate must name the host we asked for.
  if (!SSL_set_tlsext_host_name(stream.native_handle(), url.host.c_str())) {
    throw boost::system::system_error(
        beast::error_code(static_cast<int>(::ERR_get_error()), asio::error::get_ssl_category()));
  }
  stream.set_verify_callback(asio::ssl::host_name_verification(url.host));
  beast::get_lowest_layer(stream).expires_after(limits.connect);
  beast::error_code ec;
  co_await stream.async_handshake(asio::ssl::stream_base::client,
                                  asio::redirect_error(use_awaitable, ec));
  if (!ec) co_return;
  // The verification's own reason: OpenSSL's error queue may only say "EVP lib".
  if (const long verify = SSL_get_verify_result(stream.native_handle()); verify != X509_V_OK) {
    throw std::runtime_error(std::string("certificate verify failed: ") +
                             X509_verify_cert_error_string(verify));
  }
  throw boost::system::system_error(ec);
}

asio::ssl::context make_tls_context() {
  asio::ssl::context context(asio::ssl::context::tls_client);
  context.set_default_verify_paths();  // honours SSL_CERT_FILE and SSL_CERT_DIR
  context.set_verify_mode(asio::ssl::verify_peer);
  return context;
}

template <class Stream>
http::request<http::string_body> make_request(http::verb verb, const ServerUrl& url,
                                              const std::string& api_key, const std::string& target,
                                              const std::string& body) {
  http::request<http::string_body> req{verb, url.base_path + target, 11};
  req.set(http::field::host, url.host_header());
  req.set(http::field::user_agent, "isol8");
  req.set(http::field::content_type, "application/json");
  req.set(http::field::authorization, "Bearer " + api_key);
  if (verb != http::verb::get || !body.empty()) req.body() = body;
  req.prepare_payload();
  return req;
}

// Runs `op` (and the cancel watcher, when there is a fd to watch) to completion on a private
// io_context, turning what they throw into an Error.
Result<void> run_call(asio::io_context& io, Awaitable op, CallState& state) {
  std::exception_ptr thrown;
  // The call is over when `op` is, whatever else still waits (the cancel watcher).
  asio::co_spawn(io, std::move(op), [&](std::exception_ptr e) {
    thrown = e;
    io.stop();
  });
  io.run();
  if (state.cancelled) return Error{ECANCELED, "cancelled"};
  if (state.failure) return *state.failure;
  if (!thrown) return ok();
  try {
    std::rethrow_exception(thrown);
  } catch (const boost::system::system_error& e) {
    const auto code = e.code();
    if (code == beast::error::timeout) return Error{ETIMEDOUT, "timed out"};
    if (code == http::error::body_limit) return Error{EMSGSIZE, "the reply is too large"};
    if (code == http::error::header_limit)
      return Error{EMSGSIZE, "the reply's header is too large"};
    if (code == websocket::error::message_too_big) return Error{EMSGSIZE, "a message is too large"};
    if (code == http::error::end_of_stream || code == asio::error::eof ||
        code == asio::error::connection_reset || code == asio::ssl::error::stream_truncated) {
      return Error{ECONNRESET, "the server closed the connection"};
    }
    return Error{code.category() == boost::system::system_category() ? code.value() : EPROTO,
                 code.message()};
  } catch (const std::exception& e) {
    return Error{EPROTO, e.what()};
  }
}

// Stops the call when `cancel_fd` becomes readable (and the call is still going): `on_cancel`
// once, or else the connection's operations are cancelled, again every 50 ms, since the fd may
// be readable before the connect or the request's write has begun (a reader of stdout lost
// before the run) and a cancel finds nothing pending then. The call's end stops the io_context,
// and with it this loop. The fd is checked level-triggered: it is the CLI's epoll fd.
template <class Lowest>
Awaitable watch_cancel(asio::posix::stream_descriptor& fd, Lowest& lowest, CallState& state,
                       std::function<Awaitable()> on_cancel) {
  asio::steady_timer tick(co_await asio::this_coro::executor);
  auto pause = [&tick]() -> Awaitable {
    beast::error_code ignored;
    tick.expires_after(std::chrono::milliseconds(50));
    co_await tick.async_wait(asio::redirect_error(use_awaitable, ignored));
  };
  for (;;) {
    pollfd ready{fd.native_handle(), POLLIN, 0};
    if (::poll(&ready, 1, 0) > 0) break;
    co_await pause();
  }
  if (on_cancel) {
    co_await on_cancel();
    co_return;
  }
  state.cancelled = true;
  for (;;) {
    lowest.cancel();
    co_await pause();
  }
}

// ---- plain request/reply ----

// Throws body_limit when a reply's header announces more than `max_body` bytes.
template <class Parser>
void refuse_oversized(const Parser& parser, size_t max_body) {
  const auto length = parser.content_length();
  if (length && *length > max_body) throw boost::system::system_error(http::error::body_limit);
}

template <class Stream>
Awaitable exchange(Stream& stream, http::request<http::string_body>& req, const CallLimits& limits,
                   HttpReply& reply) {
  auto& lowest = beast::get_lowest_layer(stream);
  lowest.expires_after(limits.idle);
  co_await http::async_write(stream, req, use_awaitable);
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.header_limit(kMaxHeaderBytes);
  parser.body_limit(limits.max_body);
  lowest.expires_after(limits.idle);
  // The header first, and its Content-Length checked here: Beast 1.74's one-call async_read
  // sometimes read a body far over the parser's limit (a 3 GB reply read whole).
  co_await http::async_read_header(stream, buffer, parser, use_awaitable);
  refuse_oversized(parser, limits.max_body);
  lowest.expires_after(limits.idle);
  co_await http::async_read(stream, buffer, parser, use_awaitable);
  reply.status = static_cast<int>(parser.get().result_int());
  reply.reason = std::string(parser.get().reason());
  reply.body = std::move(parser.get().body());
}

// ---- server-sent events ----

// Splits the event stream into lines and hands on the text of each `data: ` line.
class SseLines {
 public:
  SseLines(const MessageHandler& on_data, size_t max_line) : on_data_(on_data), max_(max_line) {}
  // False when the handler asked to stop.
  bool feed(std::string_view bytes) {
    pending_.append(bytes);
    size_t start = 0;
    for (size_t nl; (nl = pending_.find('\n', start)) != std::string::npos; start = nl + 1) {
      std::string_view line(pending_.data() + start, nl - start);
      if (line.ends_with('\r')) line.remove_suffix(1);
      if (line.starts_with("data: ") && !on_data_(line.substr(6))) return false;
    }
    pending_.erase(0, start);
    if (pending_.size() > max_) {
      throw boost::system::system_error(http::error::body_limit);
    }
    return true;
  }

 private:
  const MessageHandler& on_data_;
  size_t max_;
  std::string pending_;
};

template <class Stream>
Awaitable read_event_stream(Stream& stream, http::request<http::string_body>& req,
                            const MessageHandler& on_data, const CallLimits& limits,
                            HttpReply& reply, asio::posix::stream_descriptor* cancel) {
  auto& lowest = beast::get_lowest_layer(stream);
  lowest.expires_after(limits.idle);
  co_await http::async_write(stream, req, use_awaitable);
  beast::flat_buffer buffer;
  http::response_parser<http::buffer_body> parser;
  parser.header_limit(kMaxHeaderBytes);
  // A stream is as long as the run; its lines are capped instead. Not boost::none: Beast 1.74
  // compares a Content-Length against an empty limit as if it were exceeded.
  parser.body_limit(std::numeric_limits<std::uint64_t>::max());
  lowest.expires_after(limits.idle);
  co_await http::async_read_header(stream, buffer, parser, use_awaitable);
  reply.status = static_cast<int>(parser.get().result_int());
  reply.reason = std::string(parser.get().reason());
  if (reply.status < 200 || reply.status > 299) {
    refuse_oversized(parser, limits.max_body);
    http::response_parser<http::string_body> rest(std::move(parser));
    rest.body_limit(limits.max_body);
    lowest.expires_after(limits.idle);
    co_await http::async_read(stream, buffer, rest, use_awaitable);
    reply.body = std::move(rest.get().body());
    if (cancel != nullptr) cancel->cancel();
    co_return;
  }
  SseLines lines(on_data, limits.max_body);
  char chunk[16 * 1024];
  while (!parser.is_done()) {
    parser.get().body().data = chunk;
    parser.get().body().size = sizeof chunk;
    beast::error_code ec;
    lowest.expires_after(limits.idle);
    co_await http::async_read(stream, buffer, parser, asio::redirect_error(use_awaitable, ec));
    if (ec == http::error::need_buffer) ec = {};
    if (ec) throw boost::system::system_error(ec);
    if (!lines.feed(std::string_view(chunk, sizeof chunk - parser.get().body().size))) break;
  }
  if (cancel != nullptr) cancel->cancel();
}

// ---- WebSocket ----

template <class Next>
Awaitable websocket_session(websocket::stream<Next>& ws, const ServerUrl& url,
                            const std::string& api_key, const std::string& target,
                            const std::string& first_message, const MessageHandler& on_message,
                            const CallLimits& limits, CallState& state,
                            asio::posix::stream_descriptor* cancel,
                            const std::function<Awaitable()>& send_cancel) {
  websocket::stream_base::timeout timeouts{};
  timeouts.handshake_timeout = limits.connect;
  timeouts.idle_timeout = limits.idle;
  timeouts.keep_alive_pings = true;  // a silent run is fine; a dead server is not
  beast::get_lowest_layer(ws).expires_never();
  ws.set_option(timeouts);
  ws.set_option(websocket::stream_base::decorator([&api_key](websocket::request_type& req) {
    req.set(http::field::authorization, "Bearer " + api_key);
    req.set(http::field::user_agent, "isol8");
  }));
  ws.read_message_max(limits.max_body);
  websocket::response_type response;
  beast::error_code ec;
  co_await ws.async_handshake(response, url.host_header(), url.base_path + target,
                              asio::redirect_error(use_awaitable, ec));
  if (ec) {
    const int status = static_cast<int>(response.result_int());
    // Beast reads a refusal's body with no room for one (body_limit): a refusal all the same.
    if ((ec == websocket::error::upgrade_declined && status != 0) ||
        ec == http::error::body_limit) {
      state.failure = Error{status, fmt::format("the server refused the WebSocket upgrade: {} {}",
                                                status, std::string(response.reason()))};
      if (cancel != nullptr) cancel->cancel();
      co_return;
    }
    throw boost::system::system_error(ec);
  }
  ws.text(true);
  co_await ws.async_write(asio::buffer(first_message), use_awaitable);
  // Watched only now: the cancel message must not be written before the execute message.
  if (cancel != nullptr) {
    asio::co_spawn(co_await asio::this_coro::executor,
                   watch_cancel(*cancel, beast::get_lowest_layer(ws), state, send_cancel),
                   asio::detached);
  }
  for (;;) {
    beast::flat_buffer buffer;
    co_await ws.async_read(buffer, asio::redirect_error(use_awaitable, ec));
    if (ec == websocket::error::closed) break;
    if (ec) throw boost::system::system_error(ec);
    if (!on_message(beast::buffers_to_string(buffer.data()))) {
      co_await ws.async_close(websocket::close_code::normal,
                              asio::redirect_error(use_awaitable, ec));
      break;
    }
  }
  if (cancel != nullptr) cancel->cancel();
}

std::optional<asio::posix::stream_descriptor> watch_fd(asio::io_context& io, int fd) {
  if (fd < 0) return std::nullopt;
  const int copy = ::fcntl(fd, F_DUPFD_CLOEXEC, 0);
  if (copy < 0) return std::nullopt;
  return asio::posix::stream_descriptor(io, copy);
}

}  // namespace

Result<HttpReply> ServerConnection::request(std::string_view method, const std::string& target,
                                            const std::string& body, const CallLimits& limits,
                                            int cancel_fd) const {
  const http::verb verb = http::string_to_verb(method);
  asio::io_context io;
  CallState state;
  HttpReply reply;
  auto req = make_request<void>(verb, url_, api_key_, target, body);
  auto tls_context = make_tls_context();
  std::optional<beast::ssl_stream<beast::tcp_stream>> tls;
  std::optional<beast::tcp_stream> plain;
  auto cancel = watch_fd(io, cancel_fd);
  // Named: GCC 12 destroys temporaries passed to a coroutine from a coroutine body twice.
  const std::function<Awaitable()> close_only;
  auto op = [&]() -> Awaitable {
    if (url_.tls) {
      tls.emplace(io, tls_context);
      if (cancel) {
        asio::co_spawn(io, watch_cancel(*cancel, beast::get_lowest_layer(*tls), state, close_only),
                       asio::detached);
      }
      co_await connect_tls(*tls, url_, limits);
      co_await exchange(*tls, req, limits, reply);
    } else {
      plain.emplace(io);
      if (cancel)
        asio::co_spawn(io, watch_cancel(*cancel, *plain, state, close_only), asio::detached);
      co_await connect_tcp(*plain, url_, limits);
      co_await exchange(*plain, req, limits, reply);
    }
    if (cancel) cancel->cancel();
  };
  ISOL8_TRY(run_call(io, op(), state));
  return reply;
}

Result<HttpReply> ServerConnection::post_event_stream(const std::string& target,
                                                      const std::string& body,
                                                      const MessageHandler& on_data, int cancel_fd,
                                                      const CallLimits& limits) const {
  asio::io_context io;
  CallState state;
  HttpReply reply;
  auto req = make_request<void>(http::verb::post, url_, api_key_, target, body);
  req.set(http::field::accept, "text/event-stream");
  auto tls_context = make_tls_context();
  std::optional<beast::ssl_stream<beast::tcp_stream>> tls;
  std::optional<beast::tcp_stream> plain;
  auto cancel = watch_fd(io, cancel_fd);
  auto* cancel_ptr = cancel ? &*cancel : nullptr;
  const std::function<Awaitable()> close_only;  // named, as above
  auto op = [&]() -> Awaitable {
    if (url_.tls) {
      tls.emplace(io, tls_context);
      if (cancel) {
        asio::co_spawn(io, watch_cancel(*cancel, beast::get_lowest_layer(*tls), state, close_only),
                       asio::detached);
      }
      co_await connect_tls(*tls, url_, limits);
      co_await read_event_stream(*tls, req, on_data, limits, reply, cancel_ptr);
    } else {
      plain.emplace(io);
      if (cancel)
        asio::co_spawn(io, watch_cancel(*cancel, *plain, state, close_only), asio::detached);
      co_await connect_tcp(*plain, url_, limits);
      co_await read_event_stream(*plain, req, on_data, limits, reply, cancel_ptr);
    }
  };
  ISOL8_TRY(run_call(io, op(), state));
  return reply;
}

Result<void> ServerConnection::websocket(const std::string& target,
                                         const std::string& first_message,
                                         const MessageHandler& on_message, int cancel_fd,
                                         const std::function<std::string()>& on_cancel,
                                         const CallLimits& limits) const {
  asio::io_context io;
  CallState state;
  auto tls_context = make_tls_context();
  std::optional<websocket::stream<beast::ssl_stream<beast::tcp_stream>>> tls;
  std::optional<websocket::stream<beast::tcp_stream>> plain;
  auto cancel = watch_fd(io, cancel_fd);
  auto* cancel_ptr = cancel ? &*cancel : nullptr;
  // The cancel message is written while a read is pending, which a Beast WebSocket allows (one
  // read and one write at a time).
  auto send_cancel = [&]() -> Awaitable {
    const std::string message = on_cancel();
    beast::error_code ec;
    if (tls) {
      co_await tls->async_write(asio::buffer(message), asio::redirect_error(use_awaitable, ec));
    } else if (plain) {
      co_await plain->async_write(asio::buffer(message), asio::redirect_error(use_awaitable, ec));
    }
  };
  const std::function<Awaitable()> send = send_cancel;
  auto op = [&]() -> Awaitable {
    if (url_.tls) {
      tls.emplace(io, tls_context);
      co_await connect_tls(tls->next_layer(), url_, limits);
      co_await websocket_session(*tls, url_, api_key_, target, first_message, on_message, limits,
                                 state, cancel_ptr, send);
    } else {
      plain.emplace(io);
      co_await connect_tcp(plain->next_layer(), url_, limits);
      co_await websocket_session(*plain, url_, api_key_, target, first_message, on_message, limits,
                                 state, cancel_ptr, send);
    }
  };
  return run_call(io, op(), state);
}

}  // namespace isol8::client
