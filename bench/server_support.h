#pragma once
// What the server benchmarks share: a client thread's kept-alive connection that POSTs JSON with
// a Bearer key (Beast, blocking), a free loopback port, and their numeric arguments.
// Measurements only.

#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <utility>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>

namespace isol8::bench {

class KeepAliveClient {
 public:
  using Response = boost::beast::http::response<boost::beast::http::string_body>;

  KeepAliveClient(int port, std::string key) : key_(std::move(key)) {
    stream_.connect({boost::asio::ip::make_address("127.0.0.1"), static_cast<uint16_t>(port)});
  }

  // Throws on a broken connection (the benchmark counts it as an error).
  Response post(const std::string& target, const std::string& body) {
    namespace http = boost::beast::http;
    http::request<http::string_body> req{http::verb::post, target, 11};
    req.set(http::field::host, "127.0.0.1");
    req.set(http::field::authorization, "Bearer " + key_);
    req.set(http::field::content_type, "application/json");
    req.body() = body;
    req.prepare_payload();
    http::write(stream_, req);
    Response res;
    http::read(stream_, buffer_, res);
    return res;
  }

 private:
  std::string key_;
  boost::asio::io_context ioc_;
  boost::beast::tcp_stream stream_{ioc_};
  boost::beast::flat_buffer buffer_;
};

inline int free_port() {
  boost::asio::io_context ioc;
  boost::asio::ip::tcp::acceptor a(ioc, {boost::asio::ip::make_address("127.0.0.1"), 0});
  return a.local_endpoint().port();
}

// A positive number given as an argument, or nothing (the caller prints its usage).
inline std::optional<double> positive_number(const char* text) {
  char* end = nullptr;
  const double value = std::strtod(text, &end);
  if (end == text || *end != '\0' || !(value > 0)) return std::nullopt;
  return value;
}

}  // namespace isol8::bench
