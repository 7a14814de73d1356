#pragma once
// Everything `isol8 serve` is configured with: the command line (port, key, auth DB, debug) and
// the config file's server-related keys (maxConcurrent, cleanup.*, auth.*, and the `server`
// section this port adds: wire limits, timeouts, option maxima and explicit allows).

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "isol8/result.h"
#include "isol8/types.h"

namespace isol8::server {

// What a client's `options` may ask for beyond the server's defaults (all off: clients may only
// tighten). Config keys under server.allow.
struct Allowances {
  NetworkMode max_network = NetworkMode::kNone;  // server.allow.network (default: defaults.network)
  bool unconfined_seccomp = false;               // server.allow.seccompUnconfined
  bool custom_seccomp = false;                   // server.allow.seccompCustom (+customProfilePath)
  bool writable_root = false;                    // server.allow.writableRootFs
  bool debug = false;                            // server.allow.debug
  bool persist = false;                          // server.allow.persist
  bool remote_code = false;                      // server.allow.remoteCode
  std::vector<std::string> images;               // server.allow.images (exact names)
};

// The largest values a client may ask for (server.limits.*; each defaults to the config's
// defaults.* value, so that without this section clients can only lower a limit).
struct Maxima {
  int64_t timeout_ms = 0;
  uint64_t memory_bytes = 0;
  double cpus = 0;
  int64_t pids = 0;
  int64_t max_output = 0;
  uint64_t sandbox_bytes = 0;
  uint64_t tmp_bytes = 0;
};

struct WireLimits {
  uint64_t max_body_bytes = 16ull << 20;  // server.maxBodyBytes: 413 above it
  uint32_t max_header_bytes = 16 * 1024;  // server.maxHeaderBytes: 431 above it
  uint32_t max_url_bytes = 8 * 1024;      // server.maxUrlBytes: 414 above it
  int64_t request_timeout_ms = 30000;     // server.requestTimeoutMs: a whole request's arrival
  int64_t idle_timeout_ms = 60000;        // server.idleTimeoutMs: a kept-alive idle connection
  int64_t write_timeout_ms = 30000;       // server.writeTimeoutMs: one write to a slow reader
  int max_connections = 1024;             // server.maxConnections
  uint64_t max_ws_message_bytes = 16ull << 20;  // the same cap as a body
};

// One node of several behind a load balancer (docs/cluster.md): where its sessions are is kept in
// the PostgreSQL auth DB, so that any node can tell a request for another node's session.
struct ClusterSettings {
  std::string node_id;          // --node-id / server.cluster.nodeId
  std::string advertise_url;    // --advertise-url / server.cluster.advertiseUrl: how peers reach it
  int64_t heartbeat_ms = 1000;  // server.cluster.heartbeatMs
  int64_t node_down_after_ms = 5000;  // server.cluster.nodeDownAfterMs: no heartbeat for that long
};

struct ServerSettings {
  // Command line.
  uint16_t port = 3000;
  std::string port_source;               // "--port", "ISOL8_PORT", "PORT" or "default"
  std::string bind_address = "0.0.0.0";  // --host / server.bind
  std::string master_key;
  std::optional<std::string> auth_db;  // --auth-db, or auth.connectionString with auth.enabled
  bool debug = false;

  // Config.
  int max_concurrent = 10;
  int queue_size = 64;  // server.queueSize: waiting executions before 503
  bool auto_prune = true;
  int64_t max_container_age_ms = 3'600'000;
  int64_t prune_interval_ms = 60'000;  // server.pruneIntervalMs (upstream: fixed 60 s)
  int64_t default_key_ttl_ms = 86'400'000;
  int64_t key_cleanup_interval_ms = 3'600'000;
  int64_t shutdown_grace_ms = 30'000;  // server.shutdownGraceMs
  // server.drainMs: after SIGTERM, /health answers 503 "draining" for this long while requests are
  // still served, so that a load balancer stops sending before the port closes. Default 0, and
  // 3000 for a cluster node.
  std::optional<int64_t> drain_ms;
  std::optional<ClusterSettings> cluster;
  int max_sessions = 256;  // server.maxSessions
  bool access_log = true;  // server.accessLog
  WireLimits wire;
  Maxima maxima;
  Allowances allow;
  Options base_options;  // the engine options from the config (defaults.*, security, backend, ...)
};

// The server settings the config implies (everything but the command-line part). `base` is the
// config's engine options (isol8::options_from_config).
Result<ServerSettings> settings_from_config(const nlohmann::json& config, Options base);

// Applies --node-id and --advertise-url over server.cluster and checks a node's settings: a safe
// node id, a PostgreSQL auth DB, an http:// advertise URL (default http://127.0.0.1:<port>); a
// node drains for 3 s unless server.drainMs says otherwise. Call after port and auth DB are set.
Result<void> finish_cluster_settings(ServerSettings& s, const std::optional<std::string>& node_id,
                                     const std::optional<std::string>& advertise_url);

// The port from --port, ISOL8_PORT, PORT, else 3000; an invalid one is refused with upstream's
// message: "Invalid port from <src>: <raw>. Expected 1-65535."
Result<std::pair<uint16_t, std::string>> resolve_port(const std::optional<std::string>& flag,
                                                      const char* isol8_port, const char* port);

}  // namespace isol8::server
