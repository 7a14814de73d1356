#pragma once
// Helpers of the network tier. Nothing here sends traffic off the machine: the "internet" is a
// network namespace this test creates (TEST-NET-3 addresses, 203.0.113.0/24) with HTTP and HTTPS
// servers in it. Library-level tests of the plumbing talk to a stand-in proxy on their veth's host
// end; the CLI tests (filtered_backends_test.cc) go through the real filtering proxy.

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "backends/native/native_backend.h"
#include "common/unique_fd.h"
#include "support/test_pki.h"
#include "support/test_support.h"

namespace isol8::test {

// A network namespace standing for the internet: 203.0.113.2 inside, 203.0.113.1 on the host,
// an HTTP server on port 80 ("internet says hi"), an HTTPS server on port 443 ("secure internet
// says hi", with a certificate for kTlsNames signed by ca_pem()) and a UDP echo on port 53. The
// namespace is the server process's own (unshare -n), not a named one: `ip netns add` would
// change the host's mount table, which the native tier's leak checks watch while this tier runs
// in parallel.
class TestInternet {
 public:
  static constexpr const char* kServer = "203.0.113.2";
  static inline const std::vector<std::string> kTlsNames = {"allowed.test", "blocked.test"};

  // The servers' request handler: Python defining `class H(http.server.BaseHTTPRequestHandler)`
  // (`http.server`, `socket`, `ssl`, `sys`, `threading` and `time` are imported); the servers set
  // `self.server.body` to their greeting.
  static constexpr const char* kGreetingHandler =
      "class H(http.server.BaseHTTPRequestHandler):\n"
      "    def do_GET(self):\n"
      "        b = self.server.body\n"
      "        self.send_response(200); self.send_header('Content-Length', str(len(b)))\n"
      "        self.end_headers(); self.wfile.write(b)\n"
      "    def log_message(self, *a): pass\n";

  explicit TestInternet(const std::string& handler = kGreetingHandler)
      : pki_(make_test_pki(kTlsNames)) {
    host_if_ = "i8t" + std::to_string(::getpid());
    const std::string cert = files_.file("server.pem");
    const std::string key = files_.file("server.key");
    spit(cert, pki_.server_chain_pem);
    spit(key, pki_.server_key_pem);
    const std::string program =
        "import http.server, socket, ssl, sys, threading, time\n" + handler +
        "while True:\n"  // the address arrives from the test once the veth exists
        "    try:\n"
        "        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
        "        u.bind(('203.0.113.2', 53)); break\n"
        "    except OSError: time.sleep(0.02)\n"
        "def echo():\n"
        "    while True:\n"
        "        d, a = u.recvfrom(2048); u.sendto(d, a)\n"
        "threading.Thread(target=echo, daemon=True).start()\n"
        "tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)\n"
        "tls.load_cert_chain(sys.argv[1], sys.argv[2])\n"
        "s = http.server.ThreadingHTTPServer(('203.0.113.2', 443), H)\n"
        "s.socket = tls.wrap_socket(s.socket, server_side=True)\n"
        "s.body = b'secure internet says hi'\n"
        "threading.Thread(target=s.serve_forever, daemon=True).start()\n"
        "p = http.server.ThreadingHTTPServer(('203.0.113.2', 80), H)\n"
        "p.body = b'internet says hi'\n"
        "p.serve_forever()\n";
    server_ = ::fork();
    if (server_ == 0) {
      ::execl("/usr/bin/unshare", "unshare", "--net", "--", "/usr/bin/python3", "-c",
              program.c_str(), cert.c_str(), key.c_str(), nullptr);
      ::_exit(127);
    }
    if (server_ < 0) return;
    const std::string own = std::filesystem::read_symlink("/proc/self/ns/net").string();
    const std::string theirs = "/proc/" + std::to_string(server_) + "/ns/net";
    bool unshared = false;
    for (int i = 0; i < 400 && !unshared; ++i) {
      std::error_code ec;
      const auto ns = std::filesystem::read_symlink(theirs, ec);
      unshared = !ec && ns.string() != own && contains(cmdline(server_), "python3");
      if (!unshared) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    if (!unshared) return;
    const std::string pid = std::to_string(server_);
    const std::string in = "nsenter -t " + pid + " -n ip ";
    const std::string script = "set -e; ip link add " + host_if_ +
                               " type veth peer name inet0 netns " + pid +
                               "; ip addr add 203.0.113.1/24 dev " + host_if_ + "; ip link set " +
                               host_if_ + " up; " + in + "addr add 203.0.113.2/24 dev inet0; " +
                               in + "link set inet0 up; " + in + "link set lo up";
    if (sh(script) != 0) return;
    for (int i = 0; i < 400 && !(tcp_connects(kServer, 80) && tcp_connects(kServer, 443)); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(25));
    }
    ok_ = tcp_connects(kServer, 80) && tcp_connects(kServer, 443);
  }
  ~TestInternet() {
    if (server_ > 0) {
      ::kill(server_, SIGKILL);
      ::waitpid(server_, nullptr, 0);
    }
    // Gone with the server's namespace; this only covers a failed set-up.
    sh("ip link del " + host_if_ + " 2>/dev/null");
  }
  bool ok() const { return ok_; }
  // The CA that signed the HTTPS server's certificate, for clients to trust.
  const std::string& ca_pem() const { return pki_.ca_pem; }

 private:
  static std::string cmdline(pid_t pid) {
    return slurp("/proc/" + std::to_string(pid) + "/cmdline");
  }

  TestPki pki_;
  TempDir files_;
  std::string host_if_;
  pid_t server_ = -1;
  bool ok_ = false;
};

// Stands for the filtering proxy: answers every request on its listener with the request line
// it saw, and logs it. Enough to prove that the sandbox reaches the proxy and nothing else.
class StandInProxy final : public RunProxy {
 public:
  static Result<std::unique_ptr<RunProxy>> start(const ProxyListen& listen) {
    UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    int one = 1;
    ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(listen.tcp_port);
    ::inet_pton(AF_INET, listen.tcp_address.c_str(), &sa.sin_addr);
    if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
      return errno_error("stand-in proxy bind " + listen.tcp_address);
    }
    if (::listen(fd.get(), 16) != 0) return errno_error("stand-in proxy listen");
    int stop[2];
    if (::pipe2(stop, O_CLOEXEC) != 0) return errno_error("pipe2");
    return std::unique_ptr<RunProxy>(
        new StandInProxy(std::move(fd), UniqueFd(stop[0]), UniqueFd(stop[1])));
  }
  ~StandInProxy() override {
    (void)!::write(stop_write_.get(), "x", 1);
    thread_.join();
  }
  std::vector<NetworkLogEntry> take_logs() override {
    std::lock_guard lock(mutex_);
    return std::exchange(logs_, {});
  }

 private:
  StandInProxy(UniqueFd listener, UniqueFd stop_read, UniqueFd stop_write)
      : listener_(std::move(listener)),
        stop_read_(std::move(stop_read)),
        stop_write_(std::move(stop_write)),
        thread_([this] { serve(); }) {}

  void serve() {
    for (;;) {
      pollfd fds[2] = {{listener_.get(), POLLIN, 0}, {stop_read_.get(), POLLIN, 0}};
      if (::poll(fds, 2, -1) < 0) continue;
      if (fds[1].revents != 0) return;
      UniqueFd c(::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC));
      if (!c) continue;
      std::string request;
      char buf[4096];
      while (request.find("\r\n\r\n") == std::string::npos) {
        pollfd p{c.get(), POLLIN, 0};
        if (::poll(&p, 1, 5000) <= 0) break;
        const ssize_t n = ::read(c.get(), buf, sizeof buf);
        if (n <= 0) break;
        request.append(buf, static_cast<size_t>(n));
      }
      const std::string line = request.substr(0, request.find("\r\n"));
      const std::string body = "stand-in proxy: " + line;
      const std::string response =
          "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(body.size()) +
          "\r\nConnection: close\r\n\r\n" + body;
      (void)!::write(c.get(), response.data(), response.size());
      NetworkLogEntry entry;
      entry.method = line.substr(0, line.find(' '));
      entry.action = "ALLOW";
      std::lock_guard lock(mutex_);
      logs_.push_back(entry);
    }
  }

  UniqueFd listener_;
  UniqueFd stop_read_;
  UniqueFd stop_write_;
  std::mutex mutex_;
  std::vector<NetworkLogEntry> logs_;
  std::thread thread_;
};

inline ProxyStarter stand_in_starter() {
  return [](const NetworkFilter&, bool, const ProxyListen& listen) {
    return StandInProxy::start(listen);
  };
}

inline Result<std::unique_ptr<Backend>> filtered_backend() {
  NativeBackendConfig config;
  config.proxy_starter = stand_in_starter();
  return make_native_backend(config);
}

// A backend run of python3 -c `code` with network `mode` (and its log with `log`), collected.
inline BackendRun run_python(Backend& backend, const std::string& code,
                             NetworkMode mode = NetworkMode::kFiltered, bool log = false) {
  RunSpec spec = python_spec(code, mode);
  spec.log_network = log;
  return run_spec(backend, spec);
}

// What filtered runs may leave on the host.
inline std::vector<std::string> network_leftovers() {
  std::vector<std::string> found;
  std::istringstream links(slurp("/proc/net/dev"));
  std::string line;
  while (std::getline(links, line)) {
    const auto name_start = line.find_first_not_of(' ');
    if (name_start != std::string::npos && line.compare(name_start, 6, "isol8h") == 0) {
      found.push_back("link " + line.substr(name_start, line.find(':') - name_start));
    }
  }
  std::istringstream tables(sh_out("nft list tables 2>/dev/null"));
  while (std::getline(tables, line)) {
    if (line.find(" isol8_") != std::string::npos) found.push_back(line);
  }
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator("/run/isol8/net", ec)) {
    found.push_back("lock " + e.path().string());
  }
  return found;
}

// Interfaces of a dropped namespace are removed by a kernel worker, a little later.
inline std::vector<std::string> network_leftovers_settled() {
  std::vector<std::string> found;
  for (int i = 0; i < 200; ++i) {
    found = network_leftovers();
    if (found.empty()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return found;
}

class FilteredNetworkTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "the filtered network's veth needs root";
    if (const auto why = sandbox_unavailable_reason(); !why.empty()) GTEST_SKIP() << why;
    auto backend = filtered_backend();
    ASSERT_TRUE(backend) << backend.error().message;
    backend_ = std::move(backend).value();
  }
  std::unique_ptr<Backend> backend_;
};

}  // namespace isol8::test
