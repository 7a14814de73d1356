#include "netfilter/nftables_library.h"

#include <dlfcn.h>

#include <string>

namespace isol8 {
namespace {

constexpr const char* kSoname = "libnftables.so.1";

template <class F>
bool bind(void* handle, const char* name, F& out, std::string& missing) {
  out = reinterpret_cast<F>(::dlsym(handle, name));
  if (out == nullptr) missing += std::string(missing.empty() ? "" : ", ") + name;
  return out != nullptr;
}

Result<NftablesLibrary> load() {
  // Never unloaded: its functions are called until the process ends.
  void* handle = ::dlopen(kSoname, RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    const char* why = ::dlerror();
    return make_error(std::string("cannot load ") + kSoname +
                      " (package libnftables1): " + (why != nullptr ? why : "unknown error"));
  }
  NftablesLibrary lib{};
  std::string missing;
  bind(handle, "nft_ctx_new", lib.ctx_new, missing);
  bind(handle, "nft_ctx_free", lib.ctx_free, missing);
  bind(handle, "nft_ctx_buffer_output", lib.ctx_buffer_output, missing);
  bind(handle, "nft_ctx_buffer_error", lib.ctx_buffer_error, missing);
  bind(handle, "nft_ctx_get_error_buffer", lib.ctx_get_error_buffer, missing);
  bind(handle, "nft_run_cmd_from_buffer", lib.run_cmd_from_buffer, missing);
  if (!missing.empty()) return make_error(std::string(kSoname) + " lacks " + missing);
  return lib;
}

}  // namespace

Result<const NftablesLibrary*> nftables_library() {
  static const Result<NftablesLibrary> loaded = load();
  if (!loaded) return loaded.error();
  return &loaded.value();
}

}  // namespace isol8
