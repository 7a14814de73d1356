#include "fetch/curl_library.h"

#include <dlfcn.h>

#include <string>

namespace isol8::fetch {
namespace {

constexpr const char* kSoname = "libcurl.so.4";

template <class F>
void bind(void* handle, const char* name, F& out, std::string& missing) {
  out = reinterpret_cast<F>(::dlsym(handle, name));
  if (out == nullptr) missing += std::string(missing.empty() ? "" : ", ") + name;
}

Result<CurlLibrary> load() {
  // Never unloaded: OpenSSL's and libcurl's global state lives until the process ends.
  void* handle = ::dlopen(kSoname, RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    const char* why = ::dlerror();
    return make_error(std::string("cannot load ") + kSoname +
                      " (package libcurl4): " + (why != nullptr ? why : "unknown error"));
  }
  CurlLibrary lib{};
  std::string missing;
  bind(handle, "curl_easy_init", lib.easy_init, missing);
  bind(handle, "curl_easy_cleanup", lib.easy_cleanup, missing);
  bind(handle, "curl_easy_setopt", lib.easy_setopt, missing);
  bind(handle, "curl_easy_perform", lib.easy_perform, missing);
  bind(handle, "curl_easy_getinfo", lib.easy_getinfo, missing);
  bind(handle, "curl_easy_strerror", lib.easy_strerror, missing);
  bind(handle, "curl_slist_append", lib.slist_append, missing);
  bind(handle, "curl_slist_free_all", lib.slist_free_all, missing);
  bind(handle, "curl_url", lib.url, missing);
  bind(handle, "curl_url_cleanup", lib.url_cleanup, missing);
  bind(handle, "curl_url_set", lib.url_set, missing);
  bind(handle, "curl_url_get", lib.url_get, missing);
  bind(handle, "curl_url_strerror", lib.url_strerror, missing);
  bind(handle, "curl_free", lib.free, missing);
  CURLcode (*global_init)(long) = nullptr;
  bind(handle, "curl_global_init", global_init, missing);
  if (!missing.empty()) return make_error(std::string(kSoname) + " lacks " + missing);
  // Thread-safe since 7.84 (bookworm has 7.88); called once here in any case.
  if (global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
    return make_error(std::string(kSoname) + ": curl_global_init failed");
  }
  return lib;
}

}  // namespace

Result<const CurlLibrary*> curl_library() {
  static const Result<CurlLibrary> loaded = load();
  if (!loaded) return loaded.error();
  return &loaded.value();
}

}  // namespace isol8::fetch
