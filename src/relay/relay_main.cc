// isol8-relay: the filtered network's way out of a sandbox that has only loopback. It listens on
// 127.0.0.1:<port> inside the sandbox and relays each connection, byte for byte, to the
// filtering proxy's Unix socket (bind-mounted in by the runner). It grants nothing the proxy
// does not: every request is still filtered there. Static, so it runs in any root.
//
//   isol8-relay <port> <unix-socket-path>
//   isol8-relay --fd <N> <unix-socket-path>   (N: an inherited, already listening TCP socket,
//                                             so that the caller knows the port is open
//                                             before it starts anything else)
//
// Prints "ready" on stdout once listening, so that the caller can wait for it.

#include <unistd.h>

#include <array>
#include <charconv>
#include <cstdio>
#include <memory>
#include <string>
#include <utility>  // Boost 1.74's awaitable.hpp uses std::exchange without it

#include <boost/asio.hpp>

namespace {

namespace asio = boost::asio;
using asio::ip::tcp;
using Unix = asio::local::stream_protocol;

constexpr size_t kBufferSize = 64 * 1024;

// One relayed connection: two half-duplex copies; either side closing ends both.
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket client, Unix::socket upstream)
      : client_(std::move(client)), upstream_(std::move(upstream)) {}

  void start() {
    copy(client_, upstream_, to_upstream_);
    copy(upstream_, client_, to_client_);
  }

 private:
  using Buffer = std::array<char, kBufferSize>;

  template <typename From, typename To>
  void copy(From& from, To& to, Buffer& buf) {
    from.async_read_some(asio::buffer(buf), [self = shared_from_this(), &from, &to, &buf](
                                                boost::system::error_code ec, size_t n) {
      if (ec) return self->close();
      asio::async_write(to, asio::buffer(buf.data(), n),
                        [self, &from, &to, &buf](boost::system::error_code wec, size_t) {
                          if (wec) return self->close();
                          self->copy(from, to, buf);
                        });
    });
  }

  void close() {
    boost::system::error_code ignored;
    client_.close(ignored);
    upstream_.close(ignored);
  }

  tcp::socket client_;
  Unix::socket upstream_;
  Buffer to_upstream_{};
  Buffer to_client_{};
};

class Relay {
 public:
  Relay(asio::io_context& io, uint16_t port, std::string socket_path)
      : io_(io),
        acceptor_(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), port)),
        socket_path_(std::move(socket_path)) {}
  // An inherited listening socket (throws when fd is not one).
  Relay(asio::io_context& io, int fd, std::string socket_path)
      : io_(io), acceptor_(io), socket_path_(std::move(socket_path)) {
    acceptor_.assign(tcp::v4(), fd);
    (void)acceptor_.local_endpoint();  // fails on a non-socket
  }

  void accept() {
    acceptor_.async_accept([this](boost::system::error_code ec, tcp::socket client) {
      if (!ec) connect(std::move(client));
      accept();
    });
  }

 private:
  void connect(tcp::socket client) {
    auto upstream = std::make_shared<Unix::socket>(io_);
    auto shared_client = std::make_shared<tcp::socket>(std::move(client));
    upstream->async_connect(
        Unix::endpoint(socket_path_), [upstream, shared_client](boost::system::error_code ec) {
          if (ec) return;  // the client sees the connection close
          std::make_shared<Session>(std::move(*shared_client), std::move(*upstream))->start();
        });
  }

  asio::io_context& io_;
  tcp::acceptor acceptor_;
  std::string socket_path_;
};

}  // namespace

int main(int argc, char** argv) {
  const bool inherited = argc == 4 && std::string_view(argv[1]) == "--fd";
  if (argc != 3 && !inherited) {
    std::fprintf(stderr,
                 "usage: isol8-relay <port> <unix-socket-path>\n"
                 "       isol8-relay --fd <listening-fd> <unix-socket-path>\n");
    return 2;
  }
  if (inherited) {
    int fd = -1;
    const std::string_view fd_text(argv[2]);
    const auto p = std::from_chars(fd_text.data(), fd_text.data() + fd_text.size(), fd);
    if (p.ec != std::errc() || p.ptr != fd_text.data() + fd_text.size() || fd < 0) {
      std::fprintf(stderr, "isol8-relay: invalid fd: %s\n", argv[2]);
      return 2;
    }
    try {
      asio::io_context io(1);
      Relay relay(io, fd, argv[3]);
      relay.accept();
      std::printf("ready\n");
      std::fflush(stdout);
      io.run();
    } catch (const std::exception& e) {
      std::fprintf(stderr, "isol8-relay: fd %d: %s\n", fd, e.what());
      return 1;
    }
    return 0;
  }
  unsigned port = 0;
  const std::string_view port_text(argv[1]);
  const auto parsed = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (parsed.ec != std::errc() || parsed.ptr != port_text.data() + port_text.size() || port == 0 ||
      port > 65535) {
    std::fprintf(stderr, "isol8-relay: invalid port: %s\n", argv[1]);
    return 2;
  }
  try {
    asio::io_context io(1);
    Relay relay(io, static_cast<uint16_t>(port), argv[2]);
    relay.accept();
    std::printf("ready\n");
    std::fflush(stdout);
    io.run();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "isol8-relay: %s\n", e.what());
    return 1;
  }
  return 0;
}
