#include "server/session_registry.h"

#include <algorithm>

#include "server/http_error.h"

namespace isol8::server {
namespace {

Error not_found() { return http_error(404, "Session not found"); }

}  // namespace

Result<std::shared_ptr<Engine>> SessionRegistry::acquire(const std::string& id,
                                                         const std::string& tenant_id,
                                                         const EngineFactory& make) {
  std::lock_guard lock(mutex_);
  auto it = sessions_.find(id);
  if (it == sessions_.end()) {
    if (static_cast<int>(sessions_.size()) >= max_sessions_) {
      return http_error(503, "Too many sessions");
    }
    auto engine = make();
    if (!engine) return std::move(engine).error();
    Session s{id, tenant_id, std::shared_ptr<Engine>(std::move(engine).value()), {}, {}, 0};
    it = sessions_.emplace(id, std::move(s)).first;
    order_.push_back(id);
  } else if (it->second.tenant_id != tenant_id) {
    return not_found();
  }
  ++it->second.active;
  it->second.last_used = std::chrono::steady_clock::now();
  it->second.last_used_wall = std::chrono::system_clock::now();
  return it->second.engine;
}

void SessionRegistry::release(const std::string& id) {
  std::lock_guard lock(mutex_);
  auto it = sessions_.find(id);
  if (it == sessions_.end()) return;
  if (it->second.active > 0) --it->second.active;
  it->second.last_used = std::chrono::steady_clock::now();
  it->second.last_used_wall = std::chrono::system_clock::now();
}

Result<std::shared_ptr<Engine>> SessionRegistry::find(const std::string& id,
                                                      const std::string& tenant_id) {
  std::lock_guard lock(mutex_);
  auto it = sessions_.find(id);
  if (it == sessions_.end() || it->second.tenant_id != tenant_id) return not_found();
  it->second.last_used = std::chrono::steady_clock::now();
  it->second.last_used_wall = std::chrono::system_clock::now();
  return it->second.engine;
}

std::vector<SessionView> SessionRegistry::list(const std::string& tenant_id, bool all) const {
  std::lock_guard lock(mutex_);
  std::vector<SessionView> out;
  for (const auto& id : order_) {
    const Session& s = sessions_.at(id);
    if (all || s.tenant_id == tenant_id) out.push_back({s.id, s.active > 0, s.last_used_wall});
  }
  return out;
}

std::shared_ptr<Engine> SessionRegistry::remove(const std::string& id, const std::string& tenant_id,
                                                bool all) {
  std::lock_guard lock(mutex_);
  auto it = sessions_.find(id);
  if (it == sessions_.end() || (!all && it->second.tenant_id != tenant_id)) return nullptr;
  auto engine = std::move(it->second.engine);
  sessions_.erase(it);
  order_.erase(std::remove(order_.begin(), order_.end(), id), order_.end());
  return engine;
}

std::vector<std::pair<std::string, std::shared_ptr<Engine>>> SessionRegistry::take_idle(
    std::chrono::milliseconds max_idle) {
  std::lock_guard lock(mutex_);
  const auto now = std::chrono::steady_clock::now();
  std::vector<std::pair<std::string, std::shared_ptr<Engine>>> out;
  for (auto it = sessions_.begin(); it != sessions_.end();) {
    if (it->second.active == 0 && now - it->second.last_used > max_idle) {
      out.emplace_back(it->first, std::move(it->second.engine));
      order_.erase(std::remove(order_.begin(), order_.end(), it->first), order_.end());
      it = sessions_.erase(it);
    } else {
      ++it;
    }
  }
  return out;
}

std::vector<std::pair<std::string, std::shared_ptr<Engine>>> SessionRegistry::take_all() {
  std::lock_guard lock(mutex_);
  std::vector<std::pair<std::string, std::shared_ptr<Engine>>> out;
  for (auto& [id, s] : sessions_) out.emplace_back(id, std::move(s.engine));
  sessions_.clear();
  order_.clear();
  return out;
}

size_t SessionRegistry::size() const {
  std::lock_guard lock(mutex_);
  return sessions_.size();
}

bool SessionRegistry::is_active(const std::string& id) const {
  std::lock_guard lock(mutex_);
  const auto it = sessions_.find(id);
  return it != sessions_.end() && it->second.active > 0;
}

std::vector<std::string> SessionRegistry::ids() const {
  std::lock_guard lock(mutex_);
  return order_;
}

}  // namespace isol8::server
