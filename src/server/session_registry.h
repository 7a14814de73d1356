#pragma once
// Sessions: sessionId -> a persistent engine, the tenant that created it, when it was last used
// and how many requests use it now. Created by the first execution naming the id (with that
// request's options, as upstream), removed by DELETE /session/:id, /cleanup, the idle pruner and
// shutdown. A tenant sees only its own sessions: another tenant's id is "not found". Thread-safe.

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "isol8/engine.h"
#include "isol8/result.h"

namespace isol8::server {

struct Session {
  std::string id;
  std::string tenant_id;
  std::shared_ptr<Engine> engine;
  std::chrono::steady_clock::time_point last_used;
  std::chrono::system_clock::time_point last_used_wall;
  int active = 0;  // requests running in it now (upstream: a boolean)
};

struct SessionView {
  std::string id;
  bool active = false;
  std::chrono::system_clock::time_point last_used;
};

class SessionRegistry {
 public:
  explicit SessionRegistry(int max_sessions) : max_sessions_(max_sessions) {}

  using EngineFactory = std::function<Result<std::unique_ptr<Engine>>()>;

  // The tenant's session of that id, created with `make` when there is none. 404 when another
  // tenant owns it, 503 when the server holds max_sessions already. Marks it active.
  Result<std::shared_ptr<Engine>> acquire(const std::string& id, const std::string& tenant_id,
                                          const EngineFactory& make);
  // Ends a use begun by acquire (touches last-used).
  void release(const std::string& id);
  // The tenant's session's engine for file transfer (touches last-used), or 404.
  Result<std::shared_ptr<Engine>> find(const std::string& id, const std::string& tenant_id);

  // Sessions the tenant may see (`all` for the master key), in creation order.
  std::vector<SessionView> list(const std::string& tenant_id, bool all) const;
  // Removes the session if the tenant may see it; returns its engine to be stopped (null if none).
  std::shared_ptr<Engine> remove(const std::string& id, const std::string& tenant_id, bool all);
  // Removes idle sessions unused for longer than max_idle; returns their engines.
  std::vector<std::pair<std::string, std::shared_ptr<Engine>>> take_idle(
      std::chrono::milliseconds max_idle);
  // Removes every session.
  std::vector<std::pair<std::string, std::shared_ptr<Engine>>> take_all();
  size_t size() const;
  // Whether a request uses the session now (false for an unknown id).
  bool is_active(const std::string& id) const;
  // The ids of every session, for the cluster registry's tidy-up.
  std::vector<std::string> ids() const;

 private:
  const int max_sessions_;
  mutable std::mutex mutex_;
  std::vector<std::string> order_;  // creation order, as upstream's Map
  std::map<std::string, Session> sessions_;
};

}  // namespace isol8::server
