#include "proxy/session.h"

#include "common/iso_time.h"

#include <spdlog/spdlog.h>

#include <array>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <ctime>
#include <limits>

#include "proxy/address_policy.h"

namespace isol8::proxy {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
using asio::ip::tcp;
using boost::system::error_code;

constexpr size_t kRelayChunk = 16384;
// Bodies stream through in bounded chunks, so their total size needs no cap here. (Boost 1.74
// has no optional overload: boost::none would convert to a limit of 0.)
constexpr uint64_t kNoBodyLimit = std::numeric_limits<uint64_t>::max();

auto with(error_code& ec) { return asio::redirect_error(asio::use_awaitable, ec); }

bool iequals(beast::string_view a, beast::string_view b) { return beast::iequals(a, b); }

// Removes the hop-by-hop fields (RFC 9110 7.6.1) and every Proxy-* field; the caller restores the
// message framing from what its parser saw, so a Connection token cannot strip it.
template <class Fields>
void strip_hop_by_hop(Fields& fields) {
  std::vector<std::string> named;
  for (const auto& f : fields) {
    if (f.name() != http::field::connection && f.name() != http::field::proxy_connection) {
      continue;
    }
    for (const auto& token : http::token_list(f.value())) named.emplace_back(token);
  }
  for (const std::string& name : named) fields.erase(name);
  for (const char* name : {"Connection", "Keep-Alive", "Proxy-Connection", "TE", "Trailer",
                           "Upgrade", "Transfer-Encoding", "Content-Length"}) {
    fields.erase(name);
  }
  for (auto it = fields.begin(); it != fields.end();) {
    const beast::string_view name = it->name_string();
    it =
        name.size() >= 6 && iequals(name.substr(0, 6), "proxy-") ? fields.erase(it) : std::next(it);
  }
}

// Sets the framing headers the forwarded message needs, from what the parser found.
// An HTTP/1.0 peer cannot take chunks: the body is then passed on unframed and ends at close.
template <class Message, class Parser>
void restore_framing(Message& message, const Parser& parser) {
  if (parser.chunked()) {
    if (message.version() >= 11) message.chunked(true);
  } else if (parser.content_length()) {
    message.content_length(*parser.content_length());
  }
}

// Streams the body the parser is reading from `in` through the serializer to `out`, one bounded
// chunk at a time (Beast's relay pattern); the header has already been written.
template <class InStream, class Parser, class OutStream, class Serializer, class Touch>
asio::awaitable<error_code> relay_body(InStream& in, beast::flat_buffer& buffer, Parser& parser,
                                       OutStream& out, Serializer& serializer, uint64_t& bytes,
                                       Touch touch) {
  std::array<char, kRelayChunk> chunk;
  error_code ec;
  do {
    if (!parser.is_done()) {
      parser.get().body().data = chunk.data();
      parser.get().body().size = chunk.size();
      touch();
      co_await http::async_read(in, buffer, parser, with(ec));
      if (ec == http::error::need_buffer) ec = {};
      if (ec) co_return ec;
      parser.get().body().size = chunk.size() - parser.get().body().size;
      parser.get().body().data = chunk.data();
      parser.get().body().more = !parser.is_done();
    } else {
      parser.get().body().data = nullptr;
      parser.get().body().size = 0;
      parser.get().body().more = false;
    }
    touch();
    bytes += co_await http::async_write(out, serializer, with(ec));
    if (ec == http::error::need_buffer) ec = {};
    if (ec) co_return ec;
  } while (!parser.is_done() || !serializer.is_done());
  co_return ec;
}

bool is_parse_error(const error_code& ec) {
  return ec.category() == http::make_error_code(http::error::bad_target).category() &&
         ec != http::error::end_of_stream && ec != http::error::partial_message;
}

}  // namespace

Session::Session(ClientSocket client, std::shared_ptr<SlotState> slot)
    : client_(std::move(client)),
      upstream_(client_.get_executor()),
      resolver_(client_.get_executor()),
      deadline_(client_.get_executor()),
      slot_(std::move(slot)),
      policy_(slot_->policy()),
      client_buffer_(policy_->limits.max_header_bytes + kRelayChunk * 4),
      upstream_buffer_(policy_->limits.max_header_bytes * 4 + kRelayChunk * 4) {}

Session::~Session() {
  if (pending_) finish_log("ALLOW");
  slot_->closed();
}

void Session::start() {
  auto self = shared_from_this();
  asio::co_spawn(
      client_.get_executor(), [self]() { return self->watchdog(); }, asio::detached);
  asio::co_spawn(
      client_.get_executor(), [self]() { return self->run(); }, asio::detached);
}

void Session::abort() {
  done_ = true;
  resolver_.cancel();
  deadline_.cancel();
  close_sockets();
}

void Session::close_sockets() {
  error_code ignored;
  client_.shutdown(asio::socket_base::shutdown_both, ignored);
  client_.close(ignored);
  upstream_.shutdown(asio::socket_base::shutdown_both, ignored);
  upstream_.close(ignored);
}

void Session::touch(std::chrono::milliseconds timeout) { deadline_.expires_after(timeout); }

asio::awaitable<void> Session::watchdog() {
  auto self = shared_from_this();
  while (!done_) {
    error_code ec;
    co_await deadline_.async_wait(with(ec));
    if (done_) break;
    if (deadline_.expiry() <= std::chrono::steady_clock::now()) {
      spdlog::debug("proxy: closing a connection idle past its timeout");
      abort();  // also stops a pending resolution from going on to connect
      break;
    }
  }
}

asio::awaitable<void> Session::run() {
  auto self = shared_from_this();
  const ProxyLimits& limits = policy_->limits;
  bool keep_going = true;
  while (keep_going && !done_) {
    touch(limits.header_timeout);
    RequestParser parser;
    parser.header_limit(static_cast<uint32_t>(limits.max_header_bytes));
    parser.body_limit(kNoBodyLimit);
    error_code ec;
    co_await http::async_read_header(client_, client_buffer_, parser, with(ec));
    if (ec) {
      if (is_parse_error(ec) && !done_) {
        co_await respond(400, "isol8: malformed request: " + ec.message(), 11);
      }
      break;
    }
    if (parser.get().method() == http::verb::connect) {
      keep_going = co_await handle_connect(parser);
    } else {
      keep_going = co_await handle_http(parser);
    }
  }
  if (tunnel_) co_return;  // the tunnel's pumps end the connection
  done_ = true;
  deadline_.cancel();
  close_sockets();
}

void Session::begin_log(std::string method, const Target& target, std::optional<std::string> path) {
  PendingLog log;
  log.entry.timestamp = iso_timestamp_now();
  log.entry.method = std::move(method);
  log.entry.host = target.host;
  log.entry.port = target.port;
  log.entry.path = std::move(path);
  log.started = Clock::now();
  pending_ = std::move(log);
}

void Session::finish_log(const char* action) {
  if (!pending_) return;
  NetworkLogEntry entry = std::move(pending_->entry);
  entry.action = action;
  entry.duration_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - pending_->started)
          .count();
  pending_.reset();
  spdlog::debug("proxy: {} {} {}:{}{} ({} ms, {} bytes)", entry.action, entry.method, entry.host,
                entry.port, entry.path.value_or(""), entry.duration_ms, entry.bytes);
  if (policy_->log_network) slot_->log(std::move(entry));
}

asio::awaitable<void> Session::respond(unsigned status, const std::string& body, unsigned version) {
  http::response<http::string_body> res{static_cast<http::status>(status), version};
  res.set(http::field::content_type, "text/plain; charset=utf-8");
  res.keep_alive(false);
  res.body() = body;
  res.prepare_payload();
  touch(policy_->limits.idle_timeout);
  error_code ec;
  co_await http::async_write(client_, res, with(ec));
}

asio::awaitable<bool> Session::open_upstream(const Target& target, bool is_connect,
                                             unsigned version) {
  const std::string subject =
      is_connect ? "CONNECT to " + target.host : "request to " + target.host;
  if (!policy_->filter.allows(target.host)) {
    finish_log("BLOCK");
    co_await respond(403, "isol8: " + subject + " blocked by network filter", version);
    co_return false;
  }
  std::vector<tcp::endpoint> endpoints;
  error_code ec;
  if (target.ip_literal) {
    endpoints.emplace_back(canonical_address(asio::ip::make_address(target.host)), target.port);
  } else {
    touch(policy_->limits.connect_timeout);
    auto results = co_await resolver_.async_resolve(target.host, std::to_string(target.port),
                                                    tcp::resolver::numeric_service, with(ec));
    if (done_) co_return false;
    for (const auto& r : results)
      endpoints.emplace_back(canonical_address(r.endpoint().address()), r.endpoint().port());
  }
  const bool literal_allowed =
      target.ip_literal && policy_->filter.names_address_literally(target.host);
  for (const tcp::endpoint& ep : endpoints) {
    if (literal_allowed) break;
    if (auto reason = refused_reason(ep.address())) {
      finish_log("BLOCK");
      co_await respond(
          403, "isol8: " + subject + " blocked: " + ep.address().to_string() + " is " + *reason,
          version);
      co_return false;
    }
  }
  if (!ec && !endpoints.empty()) {
    touch(policy_->limits.connect_timeout);
    co_await asio::async_connect(upstream_, endpoints, with(ec));
    if (done_) co_return false;
    // The request goes out as a header write and body writes (see the listener's no_delay).
    error_code ignored;
    if (!ec) upstream_.set_option(tcp::no_delay(true), ignored);
  }
  if (ec || endpoints.empty()) {
    spdlog::debug("proxy: connection to {} failed: {}", target.authority(),
                  ec ? ec.message() : "no address");
    finish_log("ALLOW");
    co_await respond(502,
                     "isol8: proxy error: connection to " + target.host + ":" +
                         std::to_string(target.port) + " failed",
                     version);
    co_return false;
  }
  co_return true;
}

asio::awaitable<bool> Session::handle_connect(RequestParser& parser) {
  const unsigned version = parser.get().version();
  auto target = parse_connect_target(parser.get().target());
  if (!target) {
    co_await respond(400, "isol8: malformed request: " + target.error().message, version);
    co_return false;
  }
  begin_log("CONNECT", *target, std::nullopt);
  if (!co_await open_upstream(*target, true, version)) co_return false;

  static constexpr std::string_view kEstablished = "HTTP/1.1 200 Connection Established\r\n\r\n";
  error_code ec;
  touch(policy_->limits.idle_timeout);
  co_await asio::async_write(client_, asio::buffer(kEstablished), with(ec));
  if (ec) co_return false;
  // Bytes the client sent right behind the CONNECT header (a TLS ClientHello) are already read.
  if (client_buffer_.size() > 0) {
    pending_->entry.bytes += co_await asio::async_write(upstream_, client_buffer_.data(), with(ec));
    client_buffer_.consume(client_buffer_.size());
    if (ec) co_return false;
  }
  touch(policy_->limits.tunnel_idle_timeout);
  auto self = shared_from_this();
  tunnel_ = true;
  active_pumps_ = 2;
  asio::co_spawn(
      client_.get_executor(), [self]() { return self->pump(false); }, asio::detached);
  co_await pump(true);
  co_return false;
}

asio::awaitable<void> Session::pump(bool from_client) {
  auto self = shared_from_this();
  std::array<char, kRelayChunk> chunk;
  error_code ec;
  for (;;) {
    size_t n = from_client ? co_await client_.async_read_some(asio::buffer(chunk), with(ec))
                           : co_await upstream_.async_read_some(asio::buffer(chunk), with(ec));
    if (ec) break;
    touch(policy_->limits.tunnel_idle_timeout);
    n = from_client ? co_await asio::async_write(upstream_, asio::buffer(chunk.data(), n), with(ec))
                    : co_await asio::async_write(client_, asio::buffer(chunk.data(), n), with(ec));
    if (ec) break;
    if (pending_) pending_->entry.bytes += n;
    touch(policy_->limits.tunnel_idle_timeout);
  }
  error_code ignored;
  if (ec == asio::error::eof) {
    // A half-close travels on; the other direction keeps flowing until it ends too.
    if (from_client) {
      upstream_.shutdown(asio::socket_base::shutdown_send, ignored);
    } else {
      client_.shutdown(asio::socket_base::shutdown_send, ignored);
    }
  } else {
    close_sockets();
  }
  if (--active_pumps_ == 0) {
    finish_log("ALLOW");
    done_ = true;
    deadline_.cancel();
    close_sockets();
  }
}

asio::awaitable<bool> Session::handle_http(RequestParser& parser) {
  auto& request = parser.get();
  const unsigned version = request.version();
  auto target = parse_absolute_target(request.target());
  if (!target) {
    co_await respond(400, "isol8: malformed request: " + target.error().message, version);
    co_return false;
  }
  const std::string method(request.method_string());
  begin_log(method, *target, target->path);
  if (!co_await open_upstream(*target, false, version)) co_return false;

  uint64_t& bytes = pending_->entry.bytes;
  const bool client_keep_alive = request.keep_alive();
  const bool expects_continue =
      iequals(request[http::field::expect], "100-continue") && !parser.is_done();
  auto touch_idle = [this] { touch(policy_->limits.idle_timeout); };
  error_code ec;

  // The request, in origin form, on a connection of its own that closes after the response.
  strip_hop_by_hop(request);
  request.erase(http::field::expect);
  request.version(11);
  restore_framing(request, parser);
  request.target(target->path);
  request.set(http::field::host,
              target->port == 80 ? target->host_for_header() : target->authority());
  request.set(http::field::connection, "close");
  if (expects_continue) {
    static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
    touch_idle();
    co_await asio::async_write(client_, asio::buffer(kContinue), with(ec));
    if (ec) co_return false;
  }
  http::request_serializer<http::buffer_body> request_writer{request};
  touch_idle();
  bytes += co_await http::async_write_header(upstream_, request_writer, with(ec));
  if (ec) co_return false;
  ec = co_await relay_body(client_, client_buffer_, parser, upstream_, request_writer, bytes,
                           touch_idle);
  if (ec) co_return false;

  // The response; interim 1xx answers are passed on until the final one arrives.
  std::optional<http::response_parser<http::buffer_body>> response_parser;
  for (;;) {
    response_parser.emplace();
    response_parser->header_limit(static_cast<uint32_t>(policy_->limits.max_header_bytes * 4));
    response_parser->body_limit(kNoBodyLimit);
    if (request.method() == http::verb::head) response_parser->skip(true);
    touch_idle();
    co_await http::async_read_header(upstream_, upstream_buffer_, *response_parser, with(ec));
    if (ec) {
      spdlog::debug("proxy: bad response from {}: {}", target->authority(), ec.message());
      co_await respond(502,
                       "isol8: proxy error: connection to " + target->host + ":" +
                           std::to_string(target->port) + " failed",
                       version);
      co_return false;
    }
    const unsigned status = response_parser->get().result_int();
    if (status < 100 || status >= 200) break;
    if (status == 101) co_return false;  // no upgrades through the forwarding path
    http::response<http::empty_body> interim{response_parser->get().result(), version};
    touch_idle();
    bytes += co_await http::async_write(client_, interim, with(ec));
    if (ec) co_return false;
  }

  auto& response = response_parser->get();
  // A body that ends when the upstream closes can only be passed on the same way.
  const bool close_delimited = !response_parser->is_done() && !response_parser->content_length() &&
                               (!response_parser->chunked() || version < 11);
  const bool keep_alive = client_keep_alive && !close_delimited;
  strip_hop_by_hop(response);
  response.version(version);
  restore_framing(response, *response_parser);
  response.keep_alive(keep_alive);
  http::response_serializer<http::buffer_body> response_writer{response};
  touch_idle();
  bytes += co_await http::async_write_header(client_, response_writer, with(ec));
  if (ec) co_return false;
  ec = co_await relay_body(upstream_, upstream_buffer_, *response_parser, client_, response_writer,
                           bytes, touch_idle);
  if (ec) co_return false;

  finish_log("ALLOW");
  error_code ignored;
  upstream_.shutdown(asio::socket_base::shutdown_both, ignored);
  upstream_.close(ignored);
  upstream_buffer_.consume(upstream_buffer_.size());
  co_return keep_alive;
}

}  // namespace isol8::proxy
