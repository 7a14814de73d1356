#include "backends/native/filtered_host_side.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

namespace isol8 {
namespace {

void add_proxy_env(const std::string& url, SpawnExtras& extras) {
  for (const char* name : {"HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"}) {
    extras.env.push_back(fmt::format("{}={}", name, url));
  }
  extras.env.emplace_back("NO_PROXY=localhost,127.0.0.1");
  extras.env.emplace_back("no_proxy=localhost,127.0.0.1");
}

}  // namespace

FilteredHostSide::FilteredHostSide(FilteredNetworkConfig network, ProxyStarter proxy_starter,
                                   bool use_relay, bool relay_fallback)
    : network_(std::move(network)),
      proxy_starter_(std::move(proxy_starter)),
      relay_fallback_(relay_fallback),
      use_relay_(use_relay) {}

FilteredHostSide::~FilteredHostSide() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    retire_cv_.notify_one();
  }
  if (retirer_.joinable()) retirer_.join();
  if (spare_.valid()) (void)spare_.get();
}

void FilteredHostSide::adopt_spare(PreparedNetwork spare) {
  std::lock_guard lock(mutex_);
  spare_ = std::move(spare);
}

Result<std::unique_ptr<FilteredRun>> FilteredHostSide::start(const RunSpec& spec,
                                                             SpawnExtras& extras) {
  if (!proxy_starter_) {
    return make_error(
        "Network mode \"filtered\" needs the filtering proxy, which this build of isol8 does "
        "not include; use \"none\" or \"host\"");
  }
  auto run = std::make_unique<FilteredRun>();
  ISOL8_TRY(use_relay_ ? start_relay(spec, *run, extras) : start_veth(spec, *run, extras));
  return run;
}

Result<void> FilteredHostSide::start_veth(const RunSpec& spec, FilteredRun& run,
                                          SpawnExtras& extras) {
  auto network = take_network();
  if (!network && relay_fallback_) {
    // No veth here after all (no veth support, a user namespace without rights on the host's
    // network): the relay needs none, and the proxy filters the same way.
    spdlog::debug("native: no veth for the filtered network ({}); using the relay from now on",
                  network.error().message);
    use_relay_ = true;
    return start_relay(spec, run, extras);
  }
  if (!network) {
    return std::move(network).error().context(
        "cannot set up the filtered network's veth (it needs CAP_NET_ADMIN; without it, "
        "native.filteredMode \"relay\" or \"auto\" uses the relay)");
  }
  run.network_ = std::move(network).value();
  ProxyListen listen;
  listen.tcp_address = run.network_->proxy_address();
  listen.tcp_port = run.network_->proxy_port();
  auto proxy = proxy_starter_(spec.network_filter, spec.log_network, listen);
  if (!proxy) return std::move(proxy).error().context("cannot start the filtering proxy");
  run.proxy_ = std::move(proxy).value();
  add_proxy_env(
      fmt::format("http://{}:{}", run.network_->proxy_address(), run.network_->proxy_port()),
      extras);
  extras.netns_from_parent = true;
  return ok();
}

Result<void> FilteredHostSide::start_relay(const RunSpec& spec, FilteredRun& run,
                                           SpawnExtras& extras) {
  // Directories of dead runners' relays: looked for when this backend first uses the relay, not
  // at every backend's start, since finding them means reading all of $TMPDIR.
  std::call_once(relay_dirs_reclaimed_, [] {
    if (const size_t stale = RelayEndpoint::reclaim_stale(); stale > 0) {
      spdlog::debug("native: removed {} proxy directories of dead runners", stale);
    }
  });
  auto endpoint = RelayEndpoint::create();
  if (!endpoint) return std::move(endpoint).error().context("cannot set up the filtered network");
  run.relay_ = std::move(endpoint).value();
  ProxyListen listen;
  listen.unix_path = run.relay_->socket_path();
  auto proxy = proxy_starter_(spec.network_filter, spec.log_network, listen);
  if (!proxy) return std::move(proxy).error().context("cannot start the filtering proxy");
  run.proxy_ = std::move(proxy).value();
  if (auto opened = run.relay_->open_socket(); !opened) {
    return std::move(opened).error().context("cannot reach the filtering proxy's socket");
  }
  add_proxy_env(fmt::format("http://127.0.0.1:{}", RelayEndpoint::kPort), extras);
  extras.relay_exe_fd = run.relay_->relay_exe_fd();
  extras.proxy_socket_fd = run.relay_->socket_fd();
  extras.relay_port = RelayEndpoint::kPort;
  return ok();
}

void FilteredHostSide::prepare_spare_locked() {
  spare_ = std::async(std::launch::async,
                      [config = network_] { return FilteredNetwork::prepare(config); });
}

Result<std::unique_ptr<FilteredNetwork>> FilteredHostSide::take_network() {
  PreparedNetwork taken;
  {
    std::lock_guard lock(mutex_);
    if (!spare_.valid()) prepare_spare_locked();
    taken = std::move(spare_);
    // From the second filtered run on, the caller evidently runs more: keep one ready. (A
    // one-shot CLI run would only pay for a spare it never uses.)
    if (++filtered_runs_ > 1) prepare_spare_locked();
  }
  return taken.get();
}

void FilteredHostSide::retire(std::unique_ptr<FilteredRun> run) {
  if (!run->network_) return;  // the relay's side goes now: nothing in it waits for the kernel
  std::lock_guard lock(mutex_);
  if (!retirer_.joinable()) {
    retirer_ = std::thread([this] {
      std::unique_lock lock(mutex_);
      for (;;) {
        retire_cv_.wait(lock, [this] { return stopping_ || !retire_queue_.empty(); });
        if (retire_queue_.empty()) return;  // stopping, and nothing left to tear down
        auto next = std::move(retire_queue_.front());
        retire_queue_.pop_front();
        lock.unlock();
        next.reset();
        lock.lock();
      }
    });
  }
  retire_queue_.push_back(std::move(run));
  retire_cv_.notify_one();
}

}  // namespace isol8
