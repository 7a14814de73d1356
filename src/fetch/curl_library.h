#pragma once
// libcurl, loaded on first use (dlopen) instead of at every start of the binary: libcurl.so.4
// brings some thirty shared libraries (OpenSSL, nghttp2, libssh2, Kerberos, LDAP, ...) that the
// dynamic loader would map and relocate for every run, while only a run of remote code
// (--url, ExecutionRequest::code_url) uses it. That run pays the load.

#include <curl/curl.h>

#include "isol8/result.h"

namespace isol8::fetch {

// The functions of libcurl this project calls (curl_global_init has been called).
struct CurlLibrary {
  CURL* (*easy_init)();
  void (*easy_cleanup)(CURL*);
  CURLcode (*easy_setopt)(CURL*, CURLoption, ...);
  CURLcode (*easy_perform)(CURL*);
  CURLcode (*easy_getinfo)(CURL*, CURLINFO, ...);
  const char* (*easy_strerror)(CURLcode);
  curl_slist* (*slist_append)(curl_slist*, const char*);
  void (*slist_free_all)(curl_slist*);
  CURLU* (*url)();
  void (*url_cleanup)(CURLU*);
  CURLUcode (*url_set)(CURLU*, CURLUPart, const char*, unsigned int);
  CURLUcode (*url_get)(const CURLU*, CURLUPart, char**, unsigned int);
  const char* (*url_strerror)(CURLUcode);
  void (*free)(void*);
};

// Loads libcurl.so.4 once (thread-safe); the error says why it cannot be used.
Result<const CurlLibrary*> curl_library();

}  // namespace isol8::fetch
