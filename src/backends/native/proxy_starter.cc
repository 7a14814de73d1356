#include "backends/native/proxy_starter.h"

#include <cstdint>
#include <mutex>

#include "proxy/filtering_proxy.h"

namespace isol8 {
namespace {

// A backend's first filtered run gets a FilteringProxy of its own, stopped with the run: a
// one-shot `isol8 run` then pays for one io thread and nothing more. From the second run on the
// caller evidently runs more (the same rule as the backend's spare network), so one proxy (one io
// thread) is kept for the starter, that is for the backend, and each run gets a slot of its own
// in it: its listener on its network's host end, its filter and limits, its log. No thread is
// started or joined per run then.
struct SharedProxy {
  std::mutex mu;
  uint64_t runs = 0;                             // guarded by mu
  std::shared_ptr<proxy::FilteringProxy> proxy;  // guarded by mu; made by the second run
};

class OwnRunProxy final : public RunProxy {
 public:
  explicit OwnRunProxy(std::unique_ptr<proxy::FilteringProxy> proxy) : proxy_(std::move(proxy)) {}
  std::vector<NetworkLogEntry> take_logs() override {
    // Tunnels the program left open are logged when they close: close them first.
    proxy_->close_connections();
    return proxy_->take_logs();
  }

 private:
  std::unique_ptr<proxy::FilteringProxy> proxy_;
};

class SlotRunProxy final : public RunProxy {
 public:
  SlotRunProxy(std::shared_ptr<proxy::FilteringProxy> proxy, proxy::FilteringProxy::SlotId slot)
      : proxy_(std::move(proxy)), slot_(slot) {}
  // Closes the slot's listener and connections before the network slot (and its address) can
  // be handed to another run.
  ~SlotRunProxy() override { proxy_->remove_slot(slot_); }
  std::vector<NetworkLogEntry> take_logs() override {
    // Tunnels the program left open are logged when they close: close them first.
    proxy_->close_connections(slot_);
    return proxy_->take_logs(slot_);
  }

 private:
  std::shared_ptr<proxy::FilteringProxy> proxy_;
  proxy::FilteringProxy::SlotId slot_;
};

}  // namespace

ProxyStarter builtin_proxy_starter() {
  auto shared = std::make_shared<SharedProxy>();
  return [shared](const NetworkFilter& filter, bool log_network,
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
    std::shared_ptr<proxy::FilteringProxy> running;
    {
      std::lock_guard lock(shared->mu);
      if (++shared->runs == 1) {
        auto started = proxy::FilteringProxy::start(std::move(config), {listener});
        if (!started) return std::move(started).error();
        return std::unique_ptr<RunProxy>(new OwnRunProxy(std::move(started).value()));
      }
      if (!shared->proxy) {
        // No listener of its own: every run adds a slot.
        auto started = proxy::FilteringProxy::start(proxy::ProxyConfig{}, {});
        if (!started) return std::move(started).error();
        shared->proxy = std::move(started).value();
      }
      running = shared->proxy;
    }
    auto slot = running->add_slot(std::move(config), {listener});
    if (!slot) return std::move(slot).error();
    return std::unique_ptr<RunProxy>(new SlotRunProxy(std::move(running), *slot));
  };
}

}  // namespace isol8
