#include "server/session_engine.h"

namespace isol8::server {

Result<std::unique_ptr<Engine>> make_engine(Options options, bool persistent) {
  (void)persistent;  // the persistent-engine API has not landed on this branch yet
  return Engine::create(std::move(options));
}

Result<void> put_session_file(Engine& engine, const std::string& path, std::string_view content) {
  (void)engine;
  (void)path;
  (void)content;
  return make_error("No active container. Call execute() first in persistent mode.");
}

Result<std::string> get_session_file(Engine& engine, const std::string& path) {
  (void)engine;
  (void)path;
  return make_error("No active container. Call execute() first in persistent mode.");
}

void stop_session_engine(Engine& engine) { (void)engine; }

}  // namespace isol8::server
