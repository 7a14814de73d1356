#pragma once
// libnftables, loaded on first use (dlopen) instead of at every start of the binary: with its own
// dependencies (libnftnl, libmnl, libxtables, libjansson, libgmp) it is six shared libraries the
// dynamic loader would map and relocate for every run, while only the filtered network's veth
// mode uses it. The first filtered network pays the load, in its preparation thread.

#include <nftables/libnftables.h>

#include "isol8/result.h"

namespace isol8 {

// The functions of libnftables this project calls.
struct NftablesLibrary {
  struct nft_ctx* (*ctx_new)(uint32_t flags);
  void (*ctx_free)(struct nft_ctx* ctx);
  int (*ctx_buffer_output)(struct nft_ctx* ctx);
  int (*ctx_buffer_error)(struct nft_ctx* ctx);
  const char* (*ctx_get_error_buffer)(struct nft_ctx* ctx);
  int (*run_cmd_from_buffer)(struct nft_ctx* ctx, const char* buf);
};

// Loads libnftables.so.1 once (thread-safe); the error says why it cannot be used.
Result<const NftablesLibrary*> nftables_library();

}  // namespace isol8
