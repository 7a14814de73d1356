#include "server/session_engine.h"

namespace isol8::server {

Result<std::unique_ptr<Engine>> make_engine(Options options, bool persistent) {
  options.mode = persistent ? EngineMode::kPersistent : EngineMode::kEphemeral;
  // An engine here runs one execution, or keeps a session's sandbox of its own: a warm pool would
  // only start containers nobody uses (docker: a second container per request, removed unused).
  options.pool_size = PoolSize{0, 0};
  auto engine = Engine::create(std::move(options));
  if (!engine) return std::move(engine).error();
  ISOL8_TRY((*engine)->start());
  return engine;
}

Result<void> put_session_file(Engine& engine, const std::string& path, std::string_view content) {
  return engine.put_file(path, content);
}

Result<std::string> get_session_file(Engine& engine, const std::string& path) {
  return engine.get_file(path);
}

void stop_session_engine(Engine& engine) { engine.stop(); }

}  // namespace isol8::server
