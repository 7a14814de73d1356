#include "backends/native/filtered_network.h"

#include <unistd.h>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "network/sandbox_link.h"

namespace isol8 {

std::string slot_ifname(uint32_t slot) { return fmt::format("isol8h{}", slot); }

Result<std::unique_ptr<FilteredNetwork>> FilteredNetwork::prepare(
    const FilteredNetworkConfig& config) {
  // The lock files of dead runners' slots (their tables and namespaces died with them): a free
  // one is taken like a new one, so removing them only tidies the directory; done here, where
  // a veth network is made anyway, and by `isol8 cleanup`, not at every run.
  if (const size_t stale = SlotLock::reclaim_stale(config.lock_dir); stale > 0) {
    spdlog::debug("native: removed {} lock files of dead runners' network slots", stale);
  }
  auto lock = SlotLock::claim(config.lock_dir, config.pool.slot_count());
  if (!lock) return std::move(lock).error().context("while claiming a network slot");
  const uint32_t slot = lock->slot();
  std::unique_ptr<FilteredNetwork> net(new FilteredNetwork(std::move(lock).value()));
  const SlotAddresses addresses = config.pool.addresses(slot);
  net->host_ifname_ = slot_ifname(slot);
  net->proxy_address_ = format_ipv4(addresses.host);
  net->proxy_port_ = config.proxy_port;

  SandboxLinkPlan link;
  link.host_ifname = net->host_ifname_;
  link.addresses = addresses;
  auto netns = create_sandbox_netns(link);
  if (!netns) return std::move(netns).error().context("while creating the sandbox's network");
  net->netns_ = std::move(netns).value();

  SandboxTableSpec table;
  table.name = fmt::format("isol8_{}_{}", ::getpid(), slot);
  table.ifname = net->host_ifname_;
  table.proxy_address = addresses.host;
  table.proxy_port = config.proxy_port;
  auto made = SandboxTable::create(table);
  if (!made) return std::move(made).error().context("while writing the sandbox's firewall");
  net->table_ = std::move(made).value();
  return net;
}

}  // namespace isol8
