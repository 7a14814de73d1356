#pragma once
// `isol8 serve`: the listening socket, the network thread, the idle-session pruner, the key-store
// cleanup, and graceful shutdown on SIGTERM/SIGINT (stop accepting, let running executions finish
// within server.shutdownGraceMs, then kill what is left, stop every session; images are never
// touched).

#include <memory>

#include "isol8/result.h"
#include "server/key_store.h"
#include "server/server_settings.h"

namespace isol8::server {

// Runs until SIGTERM or SIGINT; returns the process exit code. Prints upstream's banner on stdout.
int run_server(ServerSettings settings, std::unique_ptr<KeyStore> store);

// The connection string as the banner shows it (a password replaced by ***).
std::string redact_connection(const std::string& connection);

}  // namespace isol8::server
