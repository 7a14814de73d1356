#include "fetch/curl_library.h"

#include "common/shared_library.h"

namespace isol8::fetch {
namespace {

Result<CurlLibrary> load() {
  auto library = SharedLibrary::open("libcurl.so.4", "libcurl4");
  if (!library) return std::move(library).error();
  CurlLibrary lib{};
  library->bind("curl_easy_init", lib.easy_init);
  library->bind("curl_easy_cleanup", lib.easy_cleanup);
  library->bind("curl_easy_setopt", lib.easy_setopt);
  library->bind("curl_easy_perform", lib.easy_perform);
  library->bind("curl_easy_getinfo", lib.easy_getinfo);
  library->bind("curl_easy_strerror", lib.easy_strerror);
  library->bind("curl_slist_append", lib.slist_append);
  library->bind("curl_slist_free_all", lib.slist_free_all);
  library->bind("curl_url", lib.url);
  library->bind("curl_url_cleanup", lib.url_cleanup);
  library->bind("curl_url_set", lib.url_set);
  library->bind("curl_url_get", lib.url_get);
  library->bind("curl_url_strerror", lib.url_strerror);
  library->bind("curl_free", lib.free);
  CURLcode (*global_init)(long) = nullptr;
  library->bind("curl_global_init", global_init);
  ISOL8_TRY(library->check());
  // Thread-safe since 7.84 (bookworm has 7.88); called once here in any case.
  if (global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
    return make_error("libcurl.so.4: curl_global_init failed");
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
