#include "netfilter/sandbox_table.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>

#include <fmt/format.h>

#include "netfilter/nftables_library.h"
#include "network/address_pool.h"

namespace isol8 {

std::string sandbox_table_ruleset(const SandboxTableSpec& spec) {
  // Priority -10 runs before the usual filter chains; a drop here is final whatever other
  // tables say, while an accept here still leaves them their say.
  return fmt::format(
      "add table inet {0} {{ flags owner; }}\n"
      "add chain inet {0} input {{ type filter hook input priority -10; policy accept; }}\n"
      "add rule inet {0} input iifname \"{1}\" meta nfproto ipv4 ip daddr {2} tcp dport {3} "
      "accept\n"
      "add rule inet {0} input iifname \"{1}\" drop\n"
      "add chain inet {0} forward {{ type filter hook forward priority -10; policy accept; }}\n"
      "add rule inet {0} forward iifname \"{1}\" drop\n"
      "add rule inet {0} forward oifname \"{1}\" drop\n"
      "add chain inet {0} output {{ type filter hook output priority -10; policy accept; }}\n"
      "add rule inet {0} output oifname \"{1}\" meta nfproto ipv4 ip saddr {2} tcp sport {3} "
      "accept\n"
      "add rule inet {0} output oifname \"{1}\" drop\n",
      spec.name, spec.ifname, format_ipv4(spec.proxy_address), spec.proxy_port);
}

Result<std::unique_ptr<SandboxTable>> SandboxTable::create(const SandboxTableSpec& spec) {
  auto nft = nftables_library();
  if (!nft) return std::move(nft).error().context("cannot write the sandbox's firewall table");
  nft_ctx* ctx = (*nft)->ctx_new(NFT_CTX_DEFAULT);
  if (ctx == nullptr) return make_error("nft_ctx_new failed");
  std::unique_ptr<SandboxTable> table(new SandboxTable(ctx, spec.name));
  // Errors go to a buffer, so that they can be reported instead of printed.
  (*nft)->ctx_buffer_error(ctx);
  (*nft)->ctx_buffer_output(ctx);
  const std::string rules = sandbox_table_ruleset(spec);
  // One buffer is one transaction: all of it applies, or none.
  if ((*nft)->run_cmd_from_buffer(ctx, rules.c_str()) != 0) {
    const char* err = (*nft)->ctx_get_error_buffer(ctx);
    return make_error(fmt::format("nftables refused the sandbox's table {}: {}", spec.name,
                                  err != nullptr ? err : "(no message)"));
  }
  return table;
}

namespace {

// Closing the last reference to the socket that owns the table makes the kernel remove the
// table, and that close waits for an RCU grace period (about 5-15 ms here): too long for the
// caller's path, and a runner process pays it again at exit. So a grandchild takes over a copy
// of every descriptor, waits until `release` (here: freeing the context) has dropped ours, and
// then closes its copies: the last reference, and the wait, are its own. The middle child exits
// at once and is reaped here (the grandchild is reparented, never a zombie of ours). Only raw
// system calls run in the children: no locks, no allocation.
template <class F>
void release_through_a_grandchild(F release) {
  int gate[2];
  if (::pipe2(gate, O_CLOEXEC) != 0) {
    release();  // the caller waits instead
    return;
  }
  const long middle = ::syscall(SYS_clone, SIGCHLD, nullptr, nullptr, nullptr, nullptr);
  if (middle == 0) {
    const long grandchild = ::syscall(SYS_clone, SIGCHLD, nullptr, nullptr, nullptr, nullptr);
    if (grandchild == 0) {
      ::syscall(SYS_close, gate[1]);
      char byte;
      // EOF once the parent (and the middle child) closed the write end: ours is the last copy.
      while (::syscall(SYS_read, gate[0], &byte, 1) < 0 && errno == EINTR) {
      }
      ::syscall(SYS_close_range, 0u, ~0u, 0u);
      ::syscall(SYS_exit_group, 0);
    }
    ::syscall(SYS_exit_group, 0);
  }
  if (middle > 0) {
    while (::waitpid(static_cast<pid_t>(middle), nullptr, 0) < 0 && errno == EINTR) {
    }
  }
  release();
  ::close(gate[1]);
  ::close(gate[0]);
}

}  // namespace

SandboxTable::~SandboxTable() {
  // Loaded already: create() made the context with it.
  release_through_a_grandchild([this] { (*nftables_library())->ctx_free(ctx_); });
}

}  // namespace isol8
