#pragma once
// The network namespace of one filtered sandbox and its veth pair, made with libnl-route-3:
// loopback up, IPv6 disabled, the peer created directly inside as eth0 with <slot>.2/30 and a
// default route via the host end (<slot>.1/30). The namespace is owned by the runner's user
// namespace, so the sandbox (in a child user namespace) has no CAP_NET_ADMIN over it and cannot
// change any of this.

#include <string>

#include "common/unique_fd.h"
#include "isol8/result.h"
#include "network/address_pool.h"

namespace isol8 {

struct SandboxLinkPlan {
  std::string host_ifname;  // at most 15 characters
  std::string sandbox_ifname = "eth0";
  SlotAddresses addresses;
};

// Returns an fd of the new network namespace; the calling thread's own namespace is unchanged
// when it returns. The namespace (and with it the veth pair) lives as long as that fd or a
// process in it: dropping a namespace is far cheaper than deleting a veth synchronously.
Result<UniqueFd> create_sandbox_netns(const SandboxLinkPlan& plan);

// Deletes a link of the calling thread's network namespace by name (a leftover whose name a
// new sandbox needs); absent is not an error.
Result<void> delete_link(const std::string& name);

}  // namespace isol8
