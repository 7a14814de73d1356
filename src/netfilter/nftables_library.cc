#include "netfilter/nftables_library.h"

#include "common/shared_library.h"

namespace isol8 {
namespace {

Result<NftablesLibrary> load() {
  auto library = SharedLibrary::open("libnftables.so.1", "libnftables1");
  if (!library) return std::move(library).error();
  NftablesLibrary lib{};
  library->bind("nft_ctx_new", lib.ctx_new);
  library->bind("nft_ctx_free", lib.ctx_free);
  library->bind("nft_ctx_buffer_output", lib.ctx_buffer_output);
  library->bind("nft_ctx_buffer_error", lib.ctx_buffer_error);
  library->bind("nft_ctx_get_error_buffer", lib.ctx_get_error_buffer);
  library->bind("nft_run_cmd_from_buffer", lib.run_cmd_from_buffer);
  ISOL8_TRY(library->check());
  return lib;
}

}  // namespace

Result<const NftablesLibrary*> nftables_library() {
  static const Result<NftablesLibrary> loaded = load();
  if (!loaded) return loaded.error();
  return &loaded.value();
}

}  // namespace isol8
