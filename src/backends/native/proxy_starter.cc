#include "backends/native/proxy_starter.h"

#include "proxy/filtering_proxy.h"

namespace isol8 {
namespace {

class FilteringRunProxy final : public RunProxy {
 public:
  explicit FilteringRunProxy(std::unique_ptr<proxy::FilteringProxy> proxy)
      : proxy_(std::move(proxy)) {}
  std::vector<NetworkLogEntry> take_logs() override {
    // Tunnels the program left open are logged when they close: close them first.
    proxy_->close_connections();
    return proxy_->take_logs();
  }

 private:
  std::unique_ptr<proxy::FilteringProxy> proxy_;
};

}  // namespace

ProxyStarter builtin_proxy_starter() {
  return [](const NetworkFilter& filter, bool log_network,
            const ProxyListen& listen) -> Result<std::unique_ptr<RunProxy>> {
    proxy::ProxyConfig config;
    config.filter = filter;
    config.log_network = log_network;
    proxy::Listener listener;
    listener.tcp_address = listen.tcp_address;
    listener.tcp_port = listen.tcp_port;
    listener.unix_path = listen.unix_path;
    // The relay mode's socket: the sandbox's ids (not the runner's) connect to it; the directory
    // around it is private to the runner, and the sandbox holds a descriptor of the socket itself.
    listener.unix_mode = 0666;
    auto started = proxy::FilteringProxy::start(std::move(config), {listener});
    if (!started) return std::move(started).error();
    return std::unique_ptr<RunProxy>(new FilteringRunProxy(std::move(started).value()));
  };
}

}  // namespace isol8
