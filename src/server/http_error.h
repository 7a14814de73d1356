#pragma once
// In the server layer an Error's code is the HTTP status the client gets (400, 403, 404, 413,
// 503, ...), and its message is the `error` field of the JSON body.

#include <string>

#include "isol8/result.h"

namespace isol8::server {

inline Error http_error(int status, std::string message) {
  return Error{status, std::move(message)};
}

// The status of an error that came from below the server (an engine's): 500, as upstream.
inline int status_of(const Error& e) { return e.code >= 400 && e.code < 600 ? e.code : 500; }

}  // namespace isol8::server
