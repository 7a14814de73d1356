#include "server/cluster_registry.h"

#include <algorithm>

#include <fmt/format.h>

#include "core/ids.h"
#include "server/pg_connection.h"

namespace isol8::server {
namespace {

constexpr const char* kSchema = R"(
CREATE TABLE IF NOT EXISTS isol8_nodes (
  id VARCHAR(64) PRIMARY KEY,
  url TEXT NOT NULL,
  incarnation VARCHAR(36) NOT NULL,
  state VARCHAR(16) NOT NULL,
  heartbeat_at TIMESTAMPTZ NOT NULL
);
CREATE TABLE IF NOT EXISTS isol8_sessions (
  id TEXT PRIMARY KEY,
  tenant_id VARCHAR(255) NOT NULL,
  node_id VARCHAR(64) NOT NULL,
  incarnation VARCHAR(36) NOT NULL,
  created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
  last_used_at TIMESTAMPTZ NOT NULL DEFAULT now(),
  active BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE INDEX IF NOT EXISTS idx_isol8_sessions_node ON isol8_sessions(node_id);
)";

// A session's node can answer for it: the same process that made it, running, and beating.
// $1: nodeDownAfterMs.
constexpr const char* kAvailable =
    "(n.incarnation IS NOT DISTINCT FROM s.incarnation AND n.state <> 'stopped' AND "
    "n.heartbeat_at > now() - ($1::bigint * interval '1 millisecond'))";

}  // namespace

ClusterRegistry::ClusterRegistry(std::unique_ptr<PgConnection> db, ClusterSettings settings,
                                 std::string incarnation)
    : db_(std::move(db)), settings_(std::move(settings)), incarnation_(std::move(incarnation)) {}

ClusterRegistry::~ClusterRegistry() = default;

Result<std::unique_ptr<ClusterRegistry>> ClusterRegistry::open(const std::string& connection,
                                                               const ClusterSettings& settings) {
  auto db = PgConnection::open(connection, kSchema, "cluster registry");
  if (!db) return std::move(db).error();
  std::unique_ptr<ClusterRegistry> registry(
      new ClusterRegistry(std::move(db).value(), settings, make_uuid_v4()));
  // A restart takes the id over with a new incarnation: the old process's sessions are lost.
  auto registered = registry->db_->exec(
      "INSERT INTO isol8_nodes (id, url, incarnation, state, heartbeat_at) "
      "VALUES ($1, $2, $3, 'up', now()) ON CONFLICT (id) DO UPDATE SET url = EXCLUDED.url, "
      "incarnation = EXCLUDED.incarnation, state = 'up', heartbeat_at = now()",
      {settings.node_id, settings.advertise_url, registry->incarnation_});
  if (!registered) return std::move(registered).error();
  return registry;
}

Result<void> ClusterRegistry::beat() {
  auto done =
      db_->exec("UPDATE isol8_nodes SET heartbeat_at = now() WHERE id = $1 AND incarnation = $2",
                {settings_.node_id, incarnation_});
  if (!done) return std::move(done).error();
  if (PgConnection::affected(*done) == 0) {
    return make_error(fmt::format(
        "another server registered as node {} after this one: are two nodes configured with the "
        "same node id? This node's sessions now read as lost on every node",
        settings_.node_id));
  }
  return ok();
}

Result<void> ClusterRegistry::set_state(const char* state) {
  auto done = db_->exec("UPDATE isol8_nodes SET state = $3 WHERE id = $1 AND incarnation = $2",
                        {settings_.node_id, incarnation_, state});
  if (!done) return std::move(done).error();
  return ok();
}

Result<SessionPlace> ClusterRegistry::locate(const std::string& id, const std::string& tenant_id,
                                             bool any_tenant, bool claim) {
  SessionPlace place;
  if (claim) {
    auto claimed = db_->exec(
        "INSERT INTO isol8_sessions (id, tenant_id, node_id, incarnation) "
        "VALUES ($1, $2, $3, $4) ON CONFLICT (id) DO NOTHING",
        {id, tenant_id, settings_.node_id, incarnation_});
    if (!claimed) return std::move(claimed).error();
    if (PgConnection::affected(*claimed) == 1) {
      place.kind = SessionPlace::Kind::kHere;
      place.node_id = settings_.node_id;
      return place;
    }
  }
  auto row = db_->exec(
      "SELECT s.tenant_id, s.node_id, s.incarnation, n.url, n.incarnation, n.state, "
      "n.heartbeat_at > now() - ($2::bigint * interval '1 millisecond') "
      "FROM isol8_sessions s LEFT JOIN isol8_nodes n ON n.id = s.node_id WHERE s.id = $1",
      {id, std::to_string(settings_.node_down_after_ms)});
  if (!row) return std::move(row).error();
  if (PgConnection::rows(*row) == 0) return place;
  const auto& r = *row;
  if (!any_tenant && PgConnection::value(r, 0, 0) != tenant_id) {
    place.kind = SessionPlace::Kind::kForeign;
    return place;
  }
  place.node_id = PgConnection::value(r, 0, 1);
  const std::string incarnation = PgConnection::value(r, 0, 2);
  if (place.node_id == settings_.node_id && incarnation == incarnation_) {
    place.kind = SessionPlace::Kind::kHere;
  } else if (PgConnection::is_null(r, 0, 3) || PgConnection::value(r, 0, 4) != incarnation) {
    place.kind = SessionPlace::Kind::kLost;
  } else if (PgConnection::value(r, 0, 5) == "stopped" || PgConnection::value(r, 0, 6) != "t") {
    place.kind = SessionPlace::Kind::kDown;
  } else {
    place.kind = SessionPlace::Kind::kElsewhere;
    place.node_url = PgConnection::value(r, 0, 3);
  }
  return place;
}

Result<void> ClusterRegistry::touch(const std::string& id, bool active) {
  auto done = db_->exec(
      "UPDATE isol8_sessions SET last_used_at = now(), active = $3 WHERE id = $1 AND node_id = $2",
      {id, settings_.node_id, active ? "true" : "false"});
  if (!done) return std::move(done).error();
  return ok();
}

Result<void> ClusterRegistry::forget(const std::string& id) {
  auto done =
      db_->exec("DELETE FROM isol8_sessions WHERE id = $1 AND node_id = $2 AND incarnation = $3",
                {id, settings_.node_id, incarnation_});
  if (!done) return std::move(done).error();
  return ok();
}

Result<void> ClusterRegistry::forget_elsewhere(const std::string& id, const std::string& node_id) {
  auto done = db_->exec("DELETE FROM isol8_sessions WHERE id = $1 AND node_id = $2", {id, node_id});
  if (!done) return std::move(done).error();
  return ok();
}

Result<std::vector<ClusterSessionView>> ClusterRegistry::list(const std::string& tenant_id,
                                                              bool all) {
  std::vector<std::string> params{std::to_string(settings_.node_down_after_ms)};
  if (!all) params.push_back(tenant_id);
  auto rows = db_->exec(
      fmt::format("SELECT s.id, s.node_id, s.active, to_char(s.last_used_at AT TIME ZONE 'UTC', "
                  "'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'), {} FROM isol8_sessions s LEFT JOIN "
                  "isol8_nodes n ON n.id = s.node_id {} ORDER BY s.created_at, s.id",
                  kAvailable, all ? "" : "WHERE s.tenant_id = $2"),
      params);
  if (!rows) return std::move(rows).error();
  std::vector<ClusterSessionView> out;
  for (int i = 0; i < PgConnection::rows(*rows); ++i) {
    ClusterSessionView v;
    v.id = PgConnection::value(*rows, i, 0);
    v.node_id = PgConnection::value(*rows, i, 1);
    v.active = PgConnection::value(*rows, i, 2) == "t";
    v.last_used = PgConnection::value(*rows, i, 3);
    v.available = PgConnection::value(*rows, i, 4) == "t";
    out.push_back(std::move(v));
  }
  return out;
}

Result<void> ClusterRegistry::tidy(int64_t max_idle_ms, const std::vector<std::string>& here) {
  auto gone = db_->exec(
      fmt::format("DELETE FROM isol8_sessions s WHERE s.last_used_at < now() - ($2::bigint * "
                  "interval '1 millisecond') AND NOT EXISTS (SELECT 1 FROM isol8_nodes n WHERE "
                  "n.id = s.node_id AND {})",
                  kAvailable),
      {std::to_string(settings_.node_down_after_ms), std::to_string(max_idle_ms)});
  if (!gone) return std::move(gone).error();
  // A claim older than a minute with no session here: its creation failed (or the session was
  // removed while the database was unreachable).
  auto mine = db_->exec(
      "SELECT id FROM isol8_sessions WHERE node_id = $1 AND incarnation = $2 AND "
      "created_at < now() - interval '1 minute'",
      {settings_.node_id, incarnation_});
  if (!mine) return std::move(mine).error();
  for (int i = 0; i < PgConnection::rows(*mine); ++i) {
    const std::string id = PgConnection::value(*mine, i, 0);
    if (std::find(here.begin(), here.end(), id) == here.end()) ISOL8_TRY(forget(id));
  }
  return ok();
}

}  // namespace isol8::server
