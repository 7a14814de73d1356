// isol8-relay, the in-sandbox end of the filtered network without a veth: TCP on loopback in,
// the proxy's Unix socket out, bytes unchanged in both directions, many connections at once.

#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <thread>

#include "support/test_support.h"

namespace isol8::test {
namespace {

// A Unix-socket server that answers each connection with "echo:" + what it read, then closes.
class UnixEcho {
 public:
  explicit UnixEcho(const std::string& path) : path_(path) {
    fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path.c_str());
    bound_ =
        ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 && ::listen(fd_, 64) == 0;
    thread_ = std::thread([this] { serve(); });
  }
  ~UnixEcho() {
    ::shutdown(fd_, SHUT_RDWR);
    ::close(fd_);
    thread_.join();
  }
  bool bound() const { return bound_; }

 private:
  void serve() {
    for (;;) {
      const int c = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0) return;
      std::thread([c] {
        std::string got;
        char buf[4096];
        ssize_t n;
        while ((n = ::read(c, buf, sizeof buf)) > 0) {
          got.append(buf, static_cast<size_t>(n));
          if (got.find('\n') != std::string::npos) break;
        }
        const std::string reply = "echo:" + got;
        (void)!::write(c, reply.data(), reply.size());
        ::close(c);
      }).detach();
    }
  }
  std::string path_;
  int fd_ = -1;
  bool bound_ = false;
  std::thread thread_;
};

std::string roundtrip(uint16_t port, const std::string& message) {
  const int s = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(s, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(s);
    return "connect failed";
  }
  (void)!::write(s, message.data(), message.size());
  std::string got;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(s, buf, sizeof buf)) > 0) got.append(buf, static_cast<size_t>(n));
  ::close(s);
  return got;
}

TEST(Relay, RelaysEachConnectionToTheUnixSocket) {
  TempDir dir;
  UnixEcho echo(dir.file("proxy.sock"));
  ASSERT_TRUE(echo.bound());
  // A port unlikely to be taken; the relay says "ready" only once it listens.
  const uint16_t port = static_cast<uint16_t>(20000 + (::getpid() % 20000));
  FILE* relay = ::popen(
      (std::string(kRelayBinary) + " " + std::to_string(port) + " " + dir.file("proxy.sock"))
          .c_str(),
      "r");
  ASSERT_NE(relay, nullptr);
  char line[16] = {};
  ASSERT_NE(std::fgets(line, sizeof line, relay), nullptr);
  ASSERT_STREQ(line, "ready\n");

  EXPECT_EQ(roundtrip(port, "hello\n"), "echo:hello\n");
  const std::string big(200000, 'x');
  EXPECT_EQ(roundtrip(port, big + "\n"), "echo:" + big + "\n");
  std::vector<std::thread> clients;
  std::atomic<int> ok{0};
  for (int i = 0; i < 20; ++i) {
    clients.emplace_back([&, i] {
      const std::string msg = "client" + std::to_string(i) + "\n";
      if (roundtrip(port, msg) == "echo:" + msg) ++ok;
    });
  }
  for (auto& t : clients) t.join();
  EXPECT_EQ(ok.load(), 20);
  (void)!std::system(
      ("pkill -f '^" + std::string(kRelayBinary) + " " + std::to_string(port) + "'").c_str());
  ::pclose(relay);
}

TEST(Relay, ServesAnInheritedListeningSocket) {
  TempDir dir;
  UnixEcho echo(dir.file("proxy.sock"));
  ASSERT_TRUE(echo.bound());
  // Listening before the relay exists: a connection made now waits in the backlog.
  const int listener = ::socket(AF_INET, SOCK_STREAM, 0);  // inherited: no CLOEXEC
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::listen(listener, 16), 0);
  socklen_t len = sizeof addr;
  ASSERT_EQ(::getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  const uint16_t port = ntohs(addr.sin_port);
  int out[2];
  ASSERT_EQ(::pipe2(out, O_CLOEXEC), 0);
  const std::string fd_text = std::to_string(listener);
  const std::string sock = dir.file("proxy.sock");
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(out[1], 1);
    ::execl(kRelayBinary, kRelayBinary, "--fd", fd_text.c_str(), sock.c_str(), nullptr);
    ::_exit(127);
  }
  ASSERT_GT(pid, 0);
  ::close(out[1]);
  ::close(listener);
  char line[16] = {};
  EXPECT_EQ(::read(out[0], line, sizeof line - 1), 6);
  EXPECT_STREQ(line, "ready\n");
  EXPECT_EQ(roundtrip(port, "inherited\n"), "echo:inherited\n");
  ::kill(pid, SIGKILL);
  ::waitpid(pid, nullptr, 0);
  ::close(out[0]);
}

TEST(Relay, RejectsBadArguments) {
  for (const char* args : {"", " 99999 /x", " abc /x", " 0 /x", " --fd x /x", " --fd -1 /x"}) {
    const int status = std::system((std::string(kRelayBinary) + args + " 2>/dev/null").c_str());
    EXPECT_EQ(WEXITSTATUS(status), 2) << args;
  }
}

}  // namespace
}  // namespace isol8::test
