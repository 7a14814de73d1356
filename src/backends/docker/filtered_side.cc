#include "backends/docker/filtered_side.h"

#include <filesystem>

#include "backends/docker/reclaim.h"
#include "common/companion_binaries.h"
#include "common/pid_dirs.h"
#include "proxy/filtering_proxy.h"

namespace isol8::docker {

FilteredSide::FilteredSide(std::string dir) : dir_(std::move(dir)) {}

Result<std::unique_ptr<FilteredSide>> FilteredSide::start(const RunSpec& spec) {
  auto relay = find_relay_binary();
  if (!relay) return std::move(relay).error();
  auto dir = make_pid_dir(kProxyDirPrefix);
  if (!dir) return std::move(dir).error();
  auto side = std::unique_ptr<FilteredSide>(new FilteredSide(*dir));
  proxy::ProxyConfig config;
  config.filter = spec.network_filter;
  config.log_network = spec.log_network;
  proxy::Listener listener;
  listener.unix_path = *dir + "/proxy.sock";
  listener.unix_mode = 0666;  // the container's uid 100 connects; the directory is private
  auto started = proxy::FilteringProxy::start(std::move(config), {listener});
  if (!started) return std::move(started).error().context("cannot start the filtering proxy");
  side->proxy_ = std::move(started).value();
  side->mounts_ = FilteredMounts{listener.unix_path, relay->string()};
  return side;
}

FilteredSide::~FilteredSide() {
  proxy_.reset();
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

std::vector<NetworkLogEntry> FilteredSide::take_logs(bool close_open) {
  if (close_open) proxy_->close_connections();  // open tunnels are logged when they close
  return proxy_->take_logs();
}

}  // namespace isol8::docker
