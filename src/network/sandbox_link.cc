#include "network/sandbox_link.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <unistd.h>

#include <cstdlib>
#include <memory>

#include <fmt/format.h>
#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/link/veth.h>
#include <netlink/route/route.h>

#include "common/fs_util.h"
#include "common/scope_exit.h"

namespace isol8 {
namespace {

struct SockFree {
  void operator()(nl_sock* s) const { nl_socket_free(s); }
};
struct LinkPut {
  void operator()(rtnl_link* l) const { rtnl_link_put(l); }
};
struct AddrPut {
  void operator()(rtnl_addr* a) const { rtnl_addr_put(a); }
};
struct NlAddrPut {
  void operator()(nl_addr* a) const { nl_addr_put(a); }
};
struct RoutePut {
  void operator()(rtnl_route* r) const { rtnl_route_put(r); }
};
using Sock = std::unique_ptr<nl_sock, SockFree>;
using Link = std::unique_ptr<rtnl_link, LinkPut>;

Error nl_error(std::string_view what, int err) {
  return make_error(fmt::format("{}: {}", what, nl_geterror(err)));
}

// A netlink route socket, bound to the network namespace of the calling thread for good.
Result<Sock> route_socket() {
  Sock sock(nl_socket_alloc());
  if (!sock) return make_error("nl_socket_alloc failed");
  if (const int err = nl_connect(sock.get(), NETLINK_ROUTE); err < 0) {
    return nl_error("connecting a netlink route socket", err);
  }
  return sock;
}

Result<int> ifindex(nl_sock* sock, const std::string& name) {
  rtnl_link* raw = nullptr;
  if (const int err = rtnl_link_get_kernel(sock, 0, name.c_str(), &raw); err < 0) {
    return nl_error(fmt::format("looking up interface {}", name), err);
  }
  Link link(raw);
  return rtnl_link_get_ifindex(link.get());
}

Result<void> set_up(nl_sock* sock, const std::string& name) {
  rtnl_link* raw = nullptr;
  if (const int err = rtnl_link_get_kernel(sock, 0, name.c_str(), &raw); err < 0) {
    return nl_error(fmt::format("looking up interface {}", name), err);
  }
  Link link(raw);
  Link change(rtnl_link_alloc());
  rtnl_link_set_flags(change.get(), IFF_UP);
  if (const int err = rtnl_link_change(sock, link.get(), change.get(), 0); err < 0) {
    return nl_error(fmt::format("bringing {} up", name), err);
  }
  return ok();
}

std::unique_ptr<nl_addr, NlAddrPut> ipv4(uint32_t address, int prefix) {
  const uint32_t be = htonl(address);
  std::unique_ptr<nl_addr, NlAddrPut> a(nl_addr_build(AF_INET, &be, sizeof be));
  if (a) nl_addr_set_prefixlen(a.get(), prefix);
  return a;
}

Result<void> add_address(nl_sock* sock, int index, uint32_t address, int prefix) {
  std::unique_ptr<rtnl_addr, AddrPut> addr(rtnl_addr_alloc());
  auto local = ipv4(address, prefix);
  if (!addr || !local) return make_error("out of memory building an address");
  rtnl_addr_set_ifindex(addr.get(), index);
  rtnl_addr_set_family(addr.get(), AF_INET);
  if (const int err = rtnl_addr_set_local(addr.get(), local.get()); err < 0) {
    return nl_error("setting an address", err);
  }
  if (const int err = rtnl_addr_add(sock, addr.get(), 0); err < 0) {
    return nl_error(fmt::format("adding {}/{}", format_ipv4(address), prefix), err);
  }
  return ok();
}

Result<void> add_default_route(nl_sock* sock, int index, uint32_t gateway) {
  std::unique_ptr<rtnl_route, RoutePut> route(rtnl_route_alloc());
  auto dst = ipv4(0, 0);
  auto gw = ipv4(gateway, 32);
  rtnl_nexthop* nh = rtnl_route_nh_alloc();
  if (!route || !dst || !gw || nh == nullptr) return make_error("out of memory building a route");
  rtnl_route_set_family(route.get(), AF_INET);
  rtnl_route_set_table(route.get(), RT_TABLE_MAIN);
  rtnl_route_set_dst(route.get(), dst.get());
  rtnl_route_nh_set_ifindex(nh, index);
  rtnl_route_nh_set_gateway(nh, gw.get());
  rtnl_route_add_nexthop(route.get(), nh);  // the route owns nh from here
  if (const int err = rtnl_route_add(sock, route.get(), NLM_F_CREATE); err < 0) {
    return nl_error("adding the default route", err);
  }
  return ok();
}

// IPv6 is switched off on the sandbox's interfaces: the filter is IPv4 only, and without IPv6
// there are no link-local addresses or router discovery to think about. /proc/sys/net is the
// network namespace of the thread that opens it.
Result<void> disable_ipv6(const std::string& ifname) {
  return write_file(fmt::format("/proc/sys/net/ipv6/conf/{}/disable_ipv6", ifname), "1");
}

Result<void> create_veth(nl_sock* host, const SandboxLinkPlan& plan, int netns_fd) {
  Link veth(rtnl_link_veth_alloc());
  if (!veth) return make_error("rtnl_link_veth_alloc failed");
  rtnl_link_set_name(veth.get(), plan.host_ifname.c_str());
  Link peer(rtnl_link_veth_get_peer(veth.get()));  // a new reference
  rtnl_link_set_name(peer.get(), plan.sandbox_ifname.c_str());
  rtnl_link_set_ns_fd(peer.get(), netns_fd);
  int err = rtnl_link_add(host, veth.get(), NLM_F_CREATE | NLM_F_EXCL);
  if (err == -NLE_EXIST) {
    // A leftover of an earlier owner of this slot that the kernel has not removed yet.
    ISOL8_TRY(delete_link(plan.host_ifname));
    err = rtnl_link_add(host, veth.get(), NLM_F_CREATE | NLM_F_EXCL);
  }
  if (err < 0) return nl_error(fmt::format("creating the veth pair {}", plan.host_ifname), err);
  return ok();
}

}  // namespace

Result<void> delete_link(const std::string& name) {
  auto sock = route_socket();
  if (!sock) return std::move(sock).error();
  Link link(rtnl_link_alloc());
  rtnl_link_set_name(link.get(), name.c_str());
  const int err = rtnl_link_delete(sock->get(), link.get());
  if (err < 0 && err != -NLE_NODEV && err != -NLE_OBJ_NOTFOUND) {
    return nl_error(fmt::format("deleting {}", name), err);
  }
  return ok();
}

Result<UniqueFd> create_sandbox_netns(const SandboxLinkPlan& plan) {
  if (plan.host_ifname.empty() || plan.host_ifname.size() >= IFNAMSIZ) {
    return make_error(fmt::format("bad interface name \"{}\"", plan.host_ifname));
  }
  auto host = route_socket();
  if (!host) return std::move(host).error();

  // A new namespace for this thread only, kept by an fd; then straight back.
  UniqueFd original(::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC));
  if (!original) return errno_error("open /proc/thread-self/ns/net");
  if (::unshare(CLONE_NEWNET) != 0) return errno_error("unshare(CLONE_NEWNET)");
  Result<Sock> inner = make_error("not created");
  UniqueFd netns(::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC));
  const int open_errno = errno;
  Result<void> inside = ok();
  if (netns) {
    // Interfaces created from now on (the veth peer) start with IPv6 off; "all" covers lo.
    inside = write_file("/proc/sys/net/ipv6/conf/default/disable_ipv6", "1");
    if (inside) inside = write_file("/proc/sys/net/ipv6/conf/all/disable_ipv6", "1");
    if (inside) inner = route_socket();
    if (inside && inner) inside = set_up(inner->get(), "lo");
  }
  // A thread left in the sandbox's namespace would put everything it does later there.
  if (::setns(original.get(), CLONE_NEWNET) != 0) std::abort();
  if (!netns) return errno_error("open the new network namespace", open_errno);
  if (!inside) return std::move(inside).error().context("while preparing the sandbox's namespace");
  if (!inner) return std::move(inner).error();

  ISOL8_TRY(create_veth(host->get(), plan, netns.get()));
  ISOL8_TRY(disable_ipv6(plan.host_ifname));
  auto host_index = ifindex(host->get(), plan.host_ifname);
  if (!host_index) return std::move(host_index).error();
  ISOL8_TRY(add_address(host->get(), *host_index, plan.addresses.host, SlotAddresses::kPrefix));
  ISOL8_TRY(set_up(host->get(), plan.host_ifname));

  auto peer_index = ifindex(inner->get(), plan.sandbox_ifname);
  if (!peer_index) return std::move(peer_index).error();
  ISOL8_TRY(add_address(inner->get(), *peer_index, plan.addresses.sandbox, SlotAddresses::kPrefix));
  ISOL8_TRY(set_up(inner->get(), plan.sandbox_ifname));
  ISOL8_TRY(add_default_route(inner->get(), *peer_index, plan.addresses.host));
  return netns;
}

}  // namespace isol8
