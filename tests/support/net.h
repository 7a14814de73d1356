#pragma once
// Host-side sockets for network tests (loopback only: nothing leaves the machine).

#include <sys/socket.h>

#include <cstdint>
#include <string>

namespace isol8::test {

// Whether a TCP connection to address:port (IPv4) succeeds.
bool tcp_connects(const std::string& address, uint16_t port);

// A non-blocking TCP listener (or UDP socket) on the host's 127.0.0.1, port chosen by the kernel.
class LoopbackListener {
 public:
  explicit LoopbackListener(int type = SOCK_STREAM);
  ~LoopbackListener();
  LoopbackListener(const LoopbackListener&) = delete;
  LoopbackListener& operator=(const LoopbackListener&) = delete;

  bool ok() const { return port_ > 0; }
  int port() const { return port_; }  // 0 when the socket could not be made
  int fd() const { return fd_; }
  // A connection is waiting (TCP) or a datagram arrived (UDP).
  bool reached() const;

 private:
  int fd_ = -1;
  int port_ = 0;
};

}  // namespace isol8::test
