#pragma once
// The filtering HTTP/HTTPS forward proxy of the "filtered" network mode. Sandboxed programs reach
// the network only through it (HTTP_PROXY/HTTPS_PROXY): CONNECT host:port becomes a byte tunnel,
// absolute-URI HTTP requests are forwarded in origin form. Every request is checked against the
// host-name filter (--allow/--deny), then the proxy resolves the name itself, refuses addresses of
// the host and its private networks (address_policy.h) and connects to exactly the address it
// checked, so DNS rebinding cannot redirect it.
//
// Thread model: each FilteringProxy runs one io thread of its own; every public method is
// thread-safe and may be called from any thread except that io thread. The destructor closes the
// listeners and every open connection and joins the thread.
//
// Slots: one proxy can serve several sandboxes (a pool of network slots). Each slot has its own
// listeners, filter, limits and log; start() creates slot kDefaultSlot, add_slot() more. A slot's
// connections count against its own max_connections.

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "isol8/result.h"
#include "isol8/types.h"

namespace isol8::proxy {

// Where the proxy listens: a TCP address (empty = 127.0.0.1; tcp_port 0 = let the kernel choose,
// see bound()) or,
// when unix_path is set, a Unix stream socket (the rootless mode bind-mounts it into the sandbox).
// A stale socket at unix_path is replaced; the socket gets unix_mode, so put it in a directory
// that only the sandbox can reach. The socket file is removed when its slot goes away.
struct Listener {
  std::string tcp_address;
  uint16_t tcp_port = 0;
  std::string unix_path;
  uint32_t unix_mode = 0666;
};

// What untrusted code can make the proxy spend.
struct ProxyLimits {
  size_t max_connections = 256;     // open client connections per slot; more get a 503
  size_t max_header_bytes = 16384;  // request line + headers; response headers get 4x
  std::chrono::milliseconds header_timeout{30000};        // to send a complete request header
  std::chrono::milliseconds connect_timeout{10000};       // to reach the upstream
  std::chrono::milliseconds idle_timeout{60000};          // no progress on an HTTP exchange
  std::chrono::milliseconds tunnel_idle_timeout{300000};  // no byte either way in a tunnel
};

struct ProxyConfig {
  NetworkFilter filter;
  bool log_network = false;  // collect NetworkLogEntry records for take_logs()
  ProxyLimits limits;
};

class FilteringProxy {
 public:
  using SlotId = uint32_t;
  static constexpr SlotId kDefaultSlot = 0;

  // Compiles the filter (an invalid pattern is an error naming it), binds every listener and
  // starts serving. No listener at all is allowed (a pool may add slots later).
  static Result<std::unique_ptr<FilteringProxy>> start(ProxyConfig config,
                                                       std::vector<Listener> listeners);
  ~FilteringProxy();
  FilteringProxy(const FilteringProxy&) = delete;
  FilteringProxy& operator=(const FilteringProxy&) = delete;

  // The listeners as bound: a TCP port 0 is replaced by the port the kernel chose.
  std::vector<Listener> bound() const { return bound(kDefaultSlot); }
  std::vector<Listener> bound(SlotId slot) const;

  // The log entries of finished requests so far, in the order they finished (a CONNECT tunnel
  // finishes when it closes); taking them empties the log. Call close_connections() first to have
  // the entries of connections still open as well.
  std::vector<NetworkLogEntry> take_logs() { return take_logs(kDefaultSlot); }
  std::vector<NetworkLogEntry> take_logs(SlotId slot);

  // Ends every open connection of the slot and waits (up to a few seconds) until each one has
  // recorded its log entry. Listeners stay open. For the end of a sandbox run.
  void close_connections(SlotId slot = kDefaultSlot);

  // A new slot with its own listeners, filter, limits and log.
  Result<SlotId> add_slot(ProxyConfig config, std::vector<Listener> listeners);
  // Replaces a slot's filter, limits and logging for connections accepted from now on.
  Result<void> reconfigure(SlotId slot, ProxyConfig config);
  // Closes the slot's listeners and connections, removes its Unix sockets and forgets its logs.
  void remove_slot(SlotId slot);

  struct Impl;

 private:
  explicit FilteringProxy(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace isol8::proxy
