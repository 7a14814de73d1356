#pragma once
// Everything a filtered sandbox's network needs on the host side, as one owner: a claimed slot,
// the sandbox's network namespace with its veth pair, addresses and route, and the nftables
// table that lets the sandbox reach only the proxy on the host end. Destroying it drops the
// table (kernel-side, with its owning socket), the namespace (which takes the veth pair with
// it, off the caller's path, on a kernel worker) and finally the slot.

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>

#include "common/unique_fd.h"
#include "isol8/result.h"
#include "netfilter/sandbox_table.h"
#include "network/address_pool.h"
#include "network/slot_lock.h"

namespace isol8 {

struct FilteredNetworkConfig {
  AddressPool pool;
  std::filesystem::path lock_dir = SlotLock::kDefaultDir;
  uint16_t proxy_port = 8118;  // upstream's proxy port, on the slot's own host address
};

class FilteredNetwork {
 public:
  static Result<std::unique_ptr<FilteredNetwork>> prepare(const FilteredNetworkConfig& config);

  int netns_fd() const { return netns_.get(); }
  const std::string& proxy_address() const { return proxy_address_; }
  uint16_t proxy_port() const { return proxy_port_; }
  const std::string& host_ifname() const { return host_ifname_; }

 private:
  FilteredNetwork(SlotLock lock) : lock_(std::move(lock)) {}

  SlotLock lock_;  // destroyed last
  UniqueFd netns_;
  std::unique_ptr<SandboxTable> table_;
  std::string proxy_address_;
  uint16_t proxy_port_ = 0;
  std::string host_ifname_;
};

// Names of host interfaces and tables carry the slot; tables also the owner's pid.
std::string slot_ifname(uint32_t slot);

}  // namespace isol8
