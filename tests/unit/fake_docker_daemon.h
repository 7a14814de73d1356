#pragma once
// A fake Docker daemon for the unit tier: a Unix socket that serves responses recorded from
// dockerd 20.10 (API 1.41), parsing requests with Beast and recording them.

#include <unistd.h>

#include <gtest/gtest.h>
#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>

#include <filesystem>
#include <functional>
#include <limits>
#include <string>
#include <thread>
#include <vector>

#include "backends/docker/endpoint.h"

namespace isol8::test::fake_docker {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using local = asio::local::stream_protocol;

struct Recorded {
  std::string method;
  std::string target;
  std::string host;
  std::string body;
};

// Serves `count` connections; `respond` writes the raw response for a parsed request.
class FakeDaemon {
 public:
  using Responder = std::function<void(const Recorded&, local::socket&)>;
  FakeDaemon(int count, Responder respond)
      : path_(std::filesystem::temp_directory_path() /
              ("isol8-fake-docker-" + std::to_string(::getpid()) + "-" +
               std::to_string(counter_++) + ".sock")),
        acceptor_(io_, local::endpoint(path_.string())),
        thread_([this, count, respond] {
          for (int i = 0; i < count; ++i) {
            local::socket s(io_);
            boost::system::error_code ec;
            acceptor_.accept(s, ec);
            if (ec) return;
            boost::beast::flat_buffer buf;
            http::request_parser<http::string_body> parser;
            parser.body_limit(std::numeric_limits<std::uint64_t>::max());
            http::read(s, buf, parser, ec);
            if (ec) {
              ADD_FAILURE() << "fake daemon: " << ec.message();
              return;
            }
            Recorded r{std::string(parser.get().method_string()),
                       std::string(parser.get().target()),
                       std::string(parser.get()[http::field::host]), parser.get().body()};
            requests.push_back(r);
            // Bytes after the request (attach stdin) are left in buf: hand them over.
            leftover.assign(static_cast<const char*>(buf.data().data()), buf.data().size());
            respond(r, s);
          }
        }) {}
  ~FakeDaemon() {
    if (thread_.joinable()) thread_.join();
    std::filesystem::remove(path_);
  }
  std::string url() const { return "unix://" + path_.string(); }
  void join() { thread_.join(); }

  std::vector<Recorded> requests;
  std::string leftover;

 private:
  static inline int counter_ = 0;
  std::filesystem::path path_;
  asio::io_context io_;
  local::acceptor acceptor_;
  std::thread thread_;
};

inline void send(local::socket& s, const std::string& raw) { asio::write(s, asio::buffer(raw)); }

// Recorded from dockerd 20.10.24 (headers trimmed to what matters).
inline const std::string kPing =
    "HTTP/1.1 200 OK\r\nApi-Version: {V}\r\nContent-Length: 2\r\nContent-Type: text/plain; "
    "charset=utf-8\r\nServer: Docker/20.10.24+dfsg1 (linux)\r\n\r\nOK";
inline std::string ping(const std::string& version) {
  std::string p = kPing;
  p.replace(p.find("{V}"), 3, version);
  return p;
}
inline std::string json_response(int status, const std::string& reason, const std::string& body) {
  return "HTTP/1.1 " + std::to_string(status) + " " + reason +
         "\r\nApi-Version: 1.41\r\nContent-Type: application/json\r\nContent-Length: " +
         std::to_string(body.size()) + "\r\n\r\n" + body;
}

inline docker::Endpoint endpoint_of(const FakeDaemon& d) {
  return *docker::parse_docker_host(d.url());
}

}  // namespace isol8::test::fake_docker
