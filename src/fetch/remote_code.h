#pragma once
// Remote code (ExecutionRequest::code_url): fetched by the runner with libcurl, never by a shell
// or the sandbox, under a RemoteCodePolicy, safe against server-side request forgery where
// upstream is not:
//   - every URL, the first and each redirect target, passes the same checks (fetch/code_url.h):
//     scheme, allowed/blocked host patterns, and every address its host resolves to;
//   - libcurl connects only to the addresses that were checked: they are pinned for the host
//     (CURLOPT_RESOLVE) and the open-socket callback refuses any other, so a DNS answer that
//     changes between check and connect (rebinding) reaches nothing;
//   - redirects are followed here, one hop at a time, at most policy.max_redirects;
//   - the body is capped at maxCodeSize while it streams in (a Content-Length above it is refused
//     before the body), the whole fetch at fetchTimeoutMs (resolving included);
//   - the body must be strict UTF-8 without NUL bytes, and its SHA-256 equal codeHash (compared
//     in constant time).
// Each refusal has its own message; upstream's where it has one.

#include <string>

#include "isol8/result.h"
#include "isol8/types.h"

namespace isol8::fetch {

struct RemoteCodeRequest {
  std::string url;
  std::string hash;  // hex SHA-256, "" for none
  bool allow_insecure = false;
};

struct FetchedCode {
  std::string code;
  std::string final_url;  // after redirects
};

Result<FetchedCode> fetch_remote_code(const RemoteCodeRequest& request,
                                      const RemoteCodePolicy& policy);

}  // namespace isol8::fetch
