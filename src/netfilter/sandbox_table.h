#pragma once
// The nftables table of one filtered sandbox, in the host's network namespace, written with
// libnftables in one atomic transaction. Traffic from the sandbox's veth reaches the host (and
// so the proxy, which listens on the host end) as INPUT: only TCP to the proxy's address and
// port is accepted; everything else from that interface is dropped, in input and in forward
// (IP forwarding is never enabled by isol8, the forward drop holds even if the host has it on).
// Output towards the sandbox is limited to the proxy's replies.
//
// The table carries the "owner" flag: the kernel deletes it when the netlink socket that made it
// closes, so a runner that dies (even by SIGKILL) leaves no table behind. isol8 touches no other
// table.

#include <cstdint>
#include <memory>
#include <string>

#include "isol8/result.h"

struct nft_ctx;

namespace isol8 {

struct SandboxTableSpec {
  std::string name;            // e.g. isol8_<pid>_<slot>
  std::string ifname;          // the host end of the sandbox's veth
  uint32_t proxy_address = 0;  // host byte order
  uint16_t proxy_port = 0;
};

// The ruleset text (pure; unit-tested).
std::string sandbox_table_ruleset(const SandboxTableSpec& spec);

class SandboxTable {
 public:
  static Result<std::unique_ptr<SandboxTable>> create(const SandboxTableSpec& spec);
  ~SandboxTable();  // closes the owning socket: the kernel removes the table
  SandboxTable(const SandboxTable&) = delete;
  SandboxTable& operator=(const SandboxTable&) = delete;

  const std::string& name() const { return name_; }

 private:
  SandboxTable(nft_ctx* ctx, std::string name) : ctx_(ctx), name_(std::move(name)) {}
  nft_ctx* ctx_;
  std::string name_;
};

}  // namespace isol8
