#pragma once
// The one place the server touches the persistent-engine API (Options::mode, Engine::put_file,
// get_file, stop, container_id): a session's engine behind a small adapter.

#include <memory>
#include <string>
#include <string_view>

#include "isol8/engine.h"
#include "isol8/result.h"

namespace isol8::server {

// An engine for one request: ephemeral, or persistent for a session.
Result<std::unique_ptr<Engine>> make_engine(Options options, bool persistent);

Result<void> put_session_file(Engine& engine, const std::string& path, std::string_view content);
Result<std::string> get_session_file(Engine& engine, const std::string& path);
// Removes the session's sandbox; idempotent.
void stop_session_engine(Engine& engine);

}  // namespace isol8::server
