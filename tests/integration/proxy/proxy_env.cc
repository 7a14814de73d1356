#include "proxy_env.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <net/if.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <sched.h>
#include <spdlog/spdlog.h>
#include <sys/mount.h>
#include <sys/time.h>
#include <unistd.h>

#include <openssl/ssl.h>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <cstdlib>
#include <fstream>
#include <thread>

#include "support/test_pki.h"

namespace isol8::proxy::test {
namespace {

namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;
using boost::system::error_code;

constexpr const char* kHosts =
    "127.0.0.1 localhost loop.test\n"
    "203.0.113.10 api.allowed.test other.test blocked.test\n"
    "198.51.100.7 second.test\n"
    "10.1.2.3 private.test\n"
    "169.254.169.254 meta.test\n"
    "::ffff:127.0.0.1 mapped.test\n";

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "proxy test environment: %s: %s\n", what.c_str(), std::strerror(errno));
  std::abort();
}

void write_file(const std::string& path, const std::string& text) {
  std::ofstream out(path);
  out << text;
  if (!out.flush()) die("writing " + path);
}

// Root: new network and mount namespaces. Anyone else: a user namespace as well, mapping the
// caller to root inside so that it may configure the network namespace it owns.
void enter_namespaces() {
  const uid_t uid = ::geteuid();
  const gid_t gid = ::getegid();
  if (uid == 0) {
    if (::unshare(CLONE_NEWNET | CLONE_NEWNS) != 0) die("unshare(net, mount)");
  } else {
    if (::unshare(CLONE_NEWUSER | CLONE_NEWNET | CLONE_NEWNS) != 0)
      die("unshare(user, net, mount)");
    write_file("/proc/self/setgroups", "deny");
    write_file("/proc/self/uid_map", "0 " + std::to_string(uid) + " 1\n");
    write_file("/proc/self/gid_map", "0 " + std::to_string(gid) + " 1\n");
  }
  if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) die("making / private");
  char dir_template[] = "/tmp/isol8-proxy-test-XXXXXX";
  if (::mkdtemp(dir_template) == nullptr) die("mkdtemp");
  const std::string hosts = std::string(dir_template) + "/hosts";
  write_file(hosts, kHosts);
  if (::mount(hosts.c_str(), "/etc/hosts", nullptr, MS_BIND, nullptr) != 0) die("bind /etc/hosts");
  // The bind mount keeps the file; the directory entry is not needed any more.
  ::unlink(hosts.c_str());
  ::rmdir(dir_template);
}

void configure_loopback() {
  nl_sock* sock = nl_socket_alloc();
  if (sock == nullptr || nl_connect(sock, NETLINK_ROUTE) != 0) die("netlink socket");
  rtnl_link* lo = nullptr;
  if (rtnl_link_get_kernel(sock, 0, "lo", &lo) != 0) die("finding lo");
  rtnl_link* change = rtnl_link_alloc();
  rtnl_link_set_flags(change, IFF_UP);
  if (int rc = rtnl_link_change(sock, lo, change, 0); rc != 0) {
    die(std::string("bringing lo up: ") + nl_geterror(rc));
  }
  for (const char* cidr : {"203.0.113.10/32", "198.51.100.7/32"}) {
    nl_addr* local = nullptr;
    if (nl_addr_parse(cidr, AF_INET, &local) != 0) die("parsing address");
    rtnl_addr* addr = rtnl_addr_alloc();
    rtnl_addr_set_ifindex(addr, rtnl_link_get_ifindex(lo));
    rtnl_addr_set_local(addr, local);
    if (int rc = rtnl_addr_add(sock, addr, 0); rc != 0) {
      die(std::string("adding ") + cidr + ": " + nl_geterror(rc));
    }
    rtnl_addr_put(addr);
    nl_addr_put(local);
  }
  rtnl_link_put(change);
  rtnl_link_put(lo);
  nl_socket_free(sock);
}

// --- The servers: blocking Beast, a thread per connection. ---

// GET /hello -> "hello <method> <target> host=<Host>"; /echo -> the request body (chunked answer
// when the request was chunked); /headers -> the request's header lines; /big -> 300000 bytes;
// /close -> a body delimited by closing the connection.
template <class Stream>
void serve_http(Stream& stream) {
  boost::beast::flat_buffer buffer;
  for (;;) {
    http::request<http::string_body> req;
    error_code ec;
    http::read(stream, buffer, req, ec);
    if (ec) return;
    http::response<http::string_body> res{http::status::ok, req.version()};
    res.set(http::field::content_type, "text/plain");
    const std::string target(req.target());
    bool close_delimited = false;
    if (target == "/echo") {
      res.body() = req.body();
      if (req.chunked()) res.chunked(true);
    } else if (target == "/headers") {
      for (const auto& f : req) {
        res.body() += std::string(f.name_string()) + ": " + std::string(f.value()) + "\n";
      }
    } else if (target == "/big") {
      res.body() = std::string(300000, 'x');
    } else if (target == "/close") {
      close_delimited = true;
    } else {
      res.body() = "hello " + std::string(req.method_string()) + " " + target +
                   " host=" + std::string(req[http::field::host]);
    }
    if (close_delimited) {
      const std::string raw =
          "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the end of the connection";
      asio::write(stream, asio::buffer(raw), ec);
      return;
    }
    if (!req.chunked()) res.prepare_payload();
    res.keep_alive(req.keep_alive());
    http::write(stream, res, ec);
    if (ec || !req.keep_alive()) return;
  }
}

void accept_forever(tcp::acceptor* acceptor, std::function<void(tcp::socket)> handle) {
  std::thread([acceptor, handle] {
    for (;;) {
      error_code ec;
      tcp::socket socket(acceptor->get_executor());
      acceptor->accept(socket, ec);
      if (ec) return;
      std::thread(handle, std::move(socket)).detach();
    }
  }).detach();
}

tcp::acceptor* listen_on(asio::io_context& io, const char* address, uint16_t port) {
  auto* acceptor = new tcp::acceptor(io);  // lives until the process exits
  const tcp::endpoint ep(asio::ip::make_address(address), port);
  acceptor->open(ep.protocol());
  acceptor->set_option(asio::socket_base::reuse_address(true));
  acceptor->bind(ep);
  acceptor->listen();
  return acceptor;
}

struct World {
  isol8::test::TestPki pki;
  asio::io_context io;
  ssl::context tls{ssl::context::tls_server};
};

World* world = nullptr;

// Runs before any test of the process, while it is still single-threaded (unshare needs that).
class ProxyTestEnvironment : public ::testing::Environment {
 public:
  void SetUp() override {
    if (std::getenv("ISOL8_PROXY_TEST_DEBUG") != nullptr) spdlog::set_level(spdlog::level::debug);
    enter_namespaces();
    configure_loopback();
    // The servers' detached threads may still be in OpenSSL (a TLS handshake that a closed
    // tunnel ends) when the process exits; OpenSSL's exit handler would free what they use.
    // A segfault of a test's process once in a suite run under load looked like that.
    OPENSSL_init_ssl(OPENSSL_INIT_NO_ATEXIT, nullptr);
    world = new World();  // the servers' threads use it until the process exits
    world->pki = isol8::test::make_test_pki({"api.allowed.test", "other.test"});
    world->tls.use_certificate_chain(asio::buffer(world->pki.server_chain_pem));
    world->tls.use_private_key(asio::buffer(world->pki.server_key_pem), ssl::context::pem);

    accept_forever(listen_on(world->io, kPublicAddress, 80), [](tcp::socket s) { serve_http(s); });
    accept_forever(listen_on(world->io, kPublicAddress, 443), [](tcp::socket s) {
      ssl::stream<tcp::socket> stream(std::move(s), world->tls);
      error_code ec;
      stream.handshake(ssl::stream_base::server, ec);
      if (!ec) serve_http(stream);
    });
    accept_forever(listen_on(world->io, "127.0.0.1", kLoopbackEchoPort), [](tcp::socket s) {
      std::array<char, 4096> buf;
      for (;;) {
        error_code ec;
        const size_t n = s.read_some(asio::buffer(buf), ec);
        if (ec) return;
        asio::write(s, asio::buffer(buf.data(), n), ec);
        if (ec) return;
      }
    });
  }
};

const auto* const registered =
    ::testing::AddGlobalTestEnvironment(new ProxyTestEnvironment());  // NOLINT

void set_receive_timeout(tcp::socket& socket) {
  timeval tv{};
  tv.tv_sec = 20;
  ::setsockopt(socket.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
}

asio::io_context& client_io() {
  static asio::io_context io;  // blocking client sockets only; never run
  return io;
}

}  // namespace

const std::string& test_ca_pem() { return world->pki.ca_pem; }

std::unique_ptr<FilteringProxy> start_proxy(ProxyConfig config) {
  auto proxy = FilteringProxy::start(std::move(config), {Listener{"127.0.0.1", 0, ""}});
  if (!proxy) {
    ADD_FAILURE() << "proxy did not start: " << proxy.error().message;
    return nullptr;
  }
  return std::move(*proxy);
}

uint16_t port_of(const FilteringProxy& proxy) { return proxy.bound().at(0).tcp_port; }

Client::Client(uint16_t proxy_port) : socket(client_io()) {
  socket.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), proxy_port));
  set_receive_timeout(socket);
}

void Client::send(const std::string& raw) { asio::write(socket, asio::buffer(raw)); }

http::response<http::string_body> Client::roundtrip(http::request<http::string_body>& request) {
  http::write(socket, request);
  return read_response(request.method() == http::verb::head);
}

http::response<http::string_body> Client::read_response(bool head_only) {
  http::response_parser<http::string_body> parser;
  parser.body_limit(16 * 1024 * 1024);
  if (head_only) parser.skip(true);
  http::read(socket, buffer, parser);
  return parser.release();
}

http::response<http::string_body> Client::connect(const std::string& target) {
  send("CONNECT " + target + " HTTP/1.1\r\nHost: " + target + "\r\n\r\n");
  http::response_parser<http::string_body> parser;
  http::read_header(socket, buffer, parser);
  if (parser.get().result() != http::status::ok) http::read(socket, buffer, parser);
  return parser.release();
}

bool Client::closed_by_peer() {
  std::array<char, 256> buf;
  error_code ec;
  for (;;) {
    socket.read_some(asio::buffer(buf), ec);
    if (ec) return ec == asio::error::eof || ec == asio::error::connection_reset;
  }
}

http::response<http::string_body> get(uint16_t proxy_port, const std::string& url) {
  Client client(proxy_port);
  client.send("GET " + url + " HTTP/1.1\r\nHost: ignored\r\nConnection: close\r\n\r\n");
  return client.read_response();
}

}  // namespace isol8::proxy::test
