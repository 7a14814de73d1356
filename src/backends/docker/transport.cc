#include "backends/docker/transport.h"

#include <fcntl.h>

#include <limits>

#include <fmt/format.h>
#include <boost/asio/connect.hpp>
#include <boost/asio/generic/stream_protocol.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>

namespace isol8::docker {
namespace {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using Socket = asio::generic::stream_protocol::socket;

Error connect_error(const Endpoint& ep, const boost::system::error_code& ec) {
  return Error{ec.value(), fmt::format("{} at {}: {}", kConnectFailed, ep.display(), ec.message())};
}

Error io_error(std::string_view what, const boost::system::error_code& ec) {
  return Error{ec.value(), fmt::format("Docker API {}: {}", what, ec.message())};
}

// A connected socket plus the io_context it belongs to (the context must outlive the socket).
struct Connection {
  asio::io_context io;
  Socket socket{io};
};

Result<void> connect(const Endpoint& ep, Connection& c) {
  boost::system::error_code ec;
  if (ep.kind == Endpoint::Kind::kUnix) {
    const asio::local::stream_protocol::endpoint local(ep.path);
    const asio::generic::stream_protocol::endpoint generic(local);
    c.socket.connect(generic, ec);
    if (ec) return connect_error(ep, ec);
    return ok();
  }
  asio::ip::tcp::resolver resolver(c.io);
  auto results = resolver.resolve(ep.host, std::to_string(ep.port), ec);
  if (ec) return connect_error(ep, ec);
  for (const auto& entry : results) {
    c.socket = Socket(c.io);
    const asio::generic::stream_protocol::endpoint generic(entry.endpoint());
    c.socket.connect(generic, ec);
    if (!ec) {
      const int one = 1;
      ::setsockopt(c.socket.native_handle(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      return ok();
    }
  }
  return connect_error(ep, ec);
}

http::verb to_verb(std::string_view method) {
  return http::string_to_verb(boost::beast::string_view(method.data(), method.size()));
}

template <class Body>
void set_common(http::request<Body>& req, std::string_view content_type) {
  // The daemon rejects requests without Host with 400; any value works on a Unix socket.
  req.set(http::field::host, "docker");
  req.set(http::field::user_agent, "isol8");
  if (!content_type.empty()) req.set(http::field::content_type, std::string(content_type));
}

template <class Parser>
HttpResponse to_response(Parser& parser) {
  HttpResponse out;
  auto& msg = parser.get();
  out.status = static_cast<int>(msg.result_int());
  for (const auto& field : msg) {
    std::string name(field.name_string());
    for (auto& ch : name) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    out.headers[name] = std::string(field.value());
  }
  if constexpr (std::is_same_v<typename Parser::value_type::body_type, http::string_body>) {
    out.body = std::move(msg.body());
  }
  return out;
}

Result<HttpResponse> read_response(Connection& c, bool head) {
  boost::beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(std::numeric_limits<std::uint64_t>::max());
  parser.skip(head);
  boost::system::error_code ec;
  http::read(c.socket, buffer, parser, ec);
  if (ec) return io_error("read response", ec);
  return to_response(parser);
}

}  // namespace

std::string daemon_message(const HttpResponse& response) {
  auto parsed = nlohmann::json::parse(response.body, nullptr, false);
  if (parsed.is_object() && parsed.contains("message") && parsed["message"].is_string()) {
    return parsed["message"].get<std::string>();
  }
  std::string text = response.body;
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  return text.empty() ? fmt::format("HTTP {}", response.status) : text;
}

Result<HttpResponse> Transport::request(std::string_view method, const std::string& target,
                                        const std::string& body,
                                        std::string_view content_type) const {
  Connection c;
  ISOL8_TRY(connect(endpoint_, c));
  http::request<http::string_body> req{to_verb(method), target, 11};
  set_common(req, body.empty() ? std::string_view{} : content_type);
  req.body() = body;
  req.prepare_payload();
  boost::system::error_code ec;
  http::write(c.socket, req, ec);
  if (ec) return io_error("write request", ec);
  return read_response(c, method == "HEAD");
}

Result<HttpResponse> Transport::request_streamed(std::string_view method, const std::string& target,
                                                 std::string_view content_type,
                                                 const BodyProducer& producer) const {
  Connection c;
  ISOL8_TRY(connect(endpoint_, c));
  http::request<http::empty_body> req{to_verb(method), target, 11};
  set_common(req, content_type);
  req.chunked(true);
  http::request_serializer<http::empty_body> serializer{req};
  boost::system::error_code ec;
  http::write_header(c.socket, serializer, ec);
  if (ec) return io_error("write request", ec);
  const ChunkWriter writer = [&](std::string_view data) -> Result<void> {
    if (data.empty()) return ok();
    boost::system::error_code wec;
    asio::write(c.socket, http::make_chunk(asio::buffer(data.data(), data.size())), wec);
    if (wec) return io_error("write request body", wec);
    return ok();
  };
  ISOL8_TRY(producer(writer));
  asio::write(c.socket, http::make_chunk_last(), ec);
  if (ec) return io_error("write request body", ec);
  return read_response(c, false);
}

Result<HijackedStream> Transport::hijack(std::string_view method, const std::string& target,
                                         const std::string& body) const {
  Connection c;
  ISOL8_TRY(connect(endpoint_, c));
  http::request<http::string_body> req{to_verb(method), target, 11};
  set_common(req, "application/json");
  req.set(http::field::connection, "Upgrade");
  req.set(http::field::upgrade, "tcp");
  req.body() = body;
  req.prepare_payload();
  boost::system::error_code ec;
  http::write(c.socket, req, ec);
  if (ec) return io_error("write request", ec);

  boost::beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(std::numeric_limits<std::uint64_t>::max());
  http::read_header(c.socket, buffer, parser, ec);
  if (ec) return io_error("read response", ec);
  const int status = static_cast<int>(parser.get().result_int());
  if (status != 101 && status != 200) {
    http::read(c.socket, buffer, parser, ec);
    HttpResponse response = to_response(parser);
    return make_error(daemon_message(response));
  }
  HijackedStream out;
  out.status = status;
  const auto data = buffer.data();
  out.pending.assign(static_cast<const char*>(data.data()), data.size());
  const int fd = ::fcntl(c.socket.native_handle(), F_DUPFD_CLOEXEC, 0);
  if (fd < 0) return errno_error("dup the attach socket");
  out.fd = UniqueFd(fd);
  return out;
}

}  // namespace isol8::docker
