#pragma once
// Server-side policy: the engine options of one request are the server's (from its config) with
// the client's `options` applied, and a client may only tighten them. A limit above the server's
// maximum, a looser network, seccomp `unconfined`/`custom`, `customProfilePath`,
// `readonlyRootFs: false`, `debug`, `persist`, an image outside the allow-list or a `remoteCode`
// policy is refused (403, naming the option) unless the config's server.allow says otherwise; a
// value of the wrong type is refused with 400.

#include <nlohmann/json.hpp>

#include "isol8/result.h"
#include "isol8/types.h"
#include "server/server_settings.h"

namespace isol8::server {

// `client` is the envelope's `options` (null or absent: the server's options unchanged).
Result<Options> apply_client_options(const nlohmann::json& client, const ServerSettings& settings);

// A request's own timeoutMs is capped the same way (403 above the maximum).
Result<void> check_request_limits(const ExecutionRequest& request, const ServerSettings& settings);

}  // namespace isol8::server
