#pragma once
// ExecutionRequest::code_url turned into code before a run is prepared: the checks of upstream's
// request validation, then the fetch (fetch/remote_code.h) under Options::remote_code.

#include <optional>
#include <string>
#include <string_view>

#include "isol8/result.h"
#include "isol8/types.h"

namespace isol8 {

// The runtime a code URL's path names by its extension (query and fragment ignored), as a file's
// name does (core/runtimes.h); nullopt when it names none.
std::optional<std::string> runtime_from_url_path(std::string_view url);

// A request with code_url: a copy with `code` set to what was fetched (and the runtime from the
// URL's path when the request names none). Refused as upstream: code_url together with code or
// cmd, then the fetch's own messages.
Result<ExecutionRequest> with_remote_code(const ExecutionRequest& request,
                                          const RemoteCodePolicy& policy);

}  // namespace isol8
