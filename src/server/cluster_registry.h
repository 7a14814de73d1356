#pragma once
// Where each session lives when several nodes share one PostgreSQL (docs/cluster.md). Nodes
// register with a fresh incarnation at start and beat every heartbeatMs; a session's row names
// its node and that node's incarnation. So any node can tell, for a session id, whether it is
// here, on a live peer (relay there), on a node that stopped or stopped beating (down), or on a
// node that restarted since (lost: sessions live in memory). Times are the database's, so the
// nodes' clocks need not agree. Blocking calls (libpq): call them off the network thread where
// a request waits on them anyway, or on a worker.

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "isol8/result.h"
#include "server/server_settings.h"

namespace isol8::server {

class PgConnection;

struct SessionPlace {
  enum class Kind {
    kUnknown,    // no such session
    kForeign,    // another tenant's: "not found" to this one
    kHere,       // this node (this incarnation) holds it
    kElsewhere,  // a live peer holds it: relay to node_url
    kDown,       // its node stopped, or stopped beating nodeDownAfterMs ago
    kLost,       // its node restarted since: the session died with the old process
  };
  Kind kind = Kind::kUnknown;
  std::string node_id;
  std::string node_url;
};

struct ClusterSessionView {
  std::string id;
  std::string node_id;
  bool active = false;
  std::string last_used;  // ISO 8601, UTC, milliseconds
  bool available = true;  // false when its node is down or the session lost
};

class ClusterRegistry {
 public:
  // Connects (its own connection, apart from the key store's), creates the tables when missing
  // and registers this node with a new incarnation.
  static Result<std::unique_ptr<ClusterRegistry>> open(const std::string& connection,
                                                       const ClusterSettings& settings);
  ~ClusterRegistry();

  const std::string& node_id() const { return settings_.node_id; }

  // The heartbeat; an error when another process took this node id (two nodes configured alike).
  Result<void> beat();
  // "draining" on SIGTERM, "stopped" at exit: peers then answer for its sessions at once.
  Result<void> set_state(const char* state);

  // Where the tenant's session is; with `claim`, an unknown id becomes this node's (the first
  // execution naming a session creates it, as upstream). `any_tenant`: the master key's view.
  Result<SessionPlace> locate(const std::string& id, const std::string& tenant_id, bool any_tenant,
                              bool claim);
  // Records a use of one of this node's sessions (for GET /sessions on any node).
  Result<void> touch(const std::string& id, bool active);
  // Drops this node's row of a session it removed (DELETE, /cleanup, idle pruning).
  Result<void> forget(const std::string& id);
  // Drops the row of a session that is down or lost (DELETE of such a session).
  Result<void> forget_elsewhere(const std::string& id, const std::string& node_id);
  // The tenant's sessions on every node (all of them for the master key), in creation order.
  Result<std::vector<ClusterSessionView>> list(const std::string& tenant_id, bool all);
  // Housekeeping (the prune loop): rows of lost sessions unused for max_idle_ms, and rows of this
  // node's incarnation that name no session here (`here`: the ids it holds; a creation that
  // failed leaves its claim behind).
  Result<void> tidy(int64_t max_idle_ms, const std::vector<std::string>& here);

 private:
  ClusterRegistry(std::unique_ptr<PgConnection> db, ClusterSettings settings,
                  std::string incarnation);

  std::unique_ptr<PgConnection> db_;
  const ClusterSettings settings_;
  const std::string incarnation_;
};

}  // namespace isol8::server
