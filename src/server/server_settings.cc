#include "server/server_settings.h"

#include <fmt/format.h>

#include "isol8/options.h"

namespace isol8::server {
namespace {

using nlohmann::json;

std::string text(const json& v) { return v.is_string() ? v.get<std::string>() : v.dump(); }

// A whole-number key of a section, or `fallback` when absent (the config was validated).
int64_t number(const json& section, const char* key, int64_t fallback) {
  const auto it = section.find(key);
  return it != section.end() && it->is_number_integer() ? it->get<int64_t>() : fallback;
}

Result<void> read_maxima(const json& limits, ServerSettings& s) {
  const Options& o = s.base_options;
  Maxima& m = s.maxima;
  m = Maxima{o.timeout_ms,      o.memory_limit_bytes, o.cpu_limit,     o.pids_limit,
             o.max_output_size, o.sandbox_size_bytes, o.tmp_size_bytes};
  auto read = [&](const char* key, auto parse, auto& out) -> Result<void> {
    if (!limits.contains(key)) return ok();
    auto v = parse(text(limits[key]), fmt::format("server.limits.{}", key));
    if (!v) return std::move(v).error();
    out = *v;
    return ok();
  };
  ISOL8_TRY(read("timeoutMs", parse_timeout_ms, m.timeout_ms));
  ISOL8_TRY(read("memoryLimit", parse_memory_limit, m.memory_bytes));
  ISOL8_TRY(read("cpuLimit", parse_cpu_limit, m.cpus));
  ISOL8_TRY(read("pidsLimit", parse_pids_limit, m.pids));
  ISOL8_TRY(read("maxOutputSize", parse_max_output, m.max_output));
  ISOL8_TRY(read("sandboxSize", parse_tmpfs_size, m.sandbox_bytes));
  ISOL8_TRY(read("tmpSize", parse_tmpfs_size, m.tmp_bytes));
  // A maximum below the default would refuse the server's own defaults: the default is the floor.
  m.timeout_ms = std::max(m.timeout_ms, o.timeout_ms);
  m.memory_bytes = std::max(m.memory_bytes, o.memory_limit_bytes);
  m.cpus = std::max(m.cpus, o.cpu_limit);
  m.pids = std::max(m.pids, o.pids_limit);
  m.max_output = std::max(m.max_output, o.max_output_size);
  m.sandbox_bytes = std::max(m.sandbox_bytes, o.sandbox_size_bytes);
  m.tmp_bytes = std::max(m.tmp_bytes, o.tmp_size_bytes);
  return ok();
}

Result<void> read_allowances(const json& allow, ServerSettings& s) {
  Allowances& a = s.allow;
  a.max_network = s.base_options.network;
  if (allow.contains("network")) {
    auto mode = parse_network_mode(text(allow["network"]), "server.allow.network");
    if (!mode) return std::move(mode).error();
    a.max_network = *mode;
  }
  a.unconfined_seccomp = allow.value("seccompUnconfined", false);
  a.custom_seccomp = allow.value("seccompCustom", false);
  a.writable_root = allow.value("writableRootFs", false);
  a.debug = allow.value("debug", false);
  a.persist = allow.value("persist", false);
  a.remote_code = allow.value("remoteCode", false);
  a.images = allow.value("images", std::vector<std::string>{});
  return ok();
}

}  // namespace

Result<ServerSettings> settings_from_config(const json& config, Options base) {
  ServerSettings s;
  s.base_options = std::move(base);
  s.max_concurrent = static_cast<int>(number(config, "maxConcurrent", 10));
  const json empty = json::object();
  const json& cleanup = config.contains("cleanup") ? config["cleanup"] : empty;
  s.auto_prune = cleanup.value("autoPrune", true);
  s.max_container_age_ms = number(cleanup, "maxContainerAgeMs", s.max_container_age_ms);
  const json& auth = config.contains("auth") ? config["auth"] : empty;
  if (auth.value("enabled", false)) {
    if (auth.contains("connectionString")) {
      s.auth_db = auth["connectionString"].get<std::string>();
    } else if (const char* home = std::getenv("HOME"); home != nullptr && *home != '\0') {
      s.auth_db = std::string(home) + "/.isol8/auth.db";
    }
  }
  if (auth.contains("defaultTtlMs")) s.default_key_ttl_ms = auth["defaultTtlMs"].get<int64_t>();
  if (auth.contains("cleanupIntervalMs")) {
    s.key_cleanup_interval_ms = auth["cleanupIntervalMs"].get<int64_t>();
  }
  const json& server = config.contains("server") ? config["server"] : empty;
  s.bind_address = server.value("bind", s.bind_address);
  WireLimits& w = s.wire;
  w.max_body_bytes =
      static_cast<uint64_t>(number(server, "maxBodyBytes", static_cast<int64_t>(w.max_body_bytes)));
  w.max_ws_message_bytes = w.max_body_bytes;
  w.max_header_bytes = static_cast<uint32_t>(number(server, "maxHeaderBytes", w.max_header_bytes));
  w.max_url_bytes = static_cast<uint32_t>(number(server, "maxUrlBytes", w.max_url_bytes));
  w.request_timeout_ms = number(server, "requestTimeoutMs", w.request_timeout_ms);
  w.idle_timeout_ms = number(server, "idleTimeoutMs", w.idle_timeout_ms);
  w.write_timeout_ms = number(server, "writeTimeoutMs", w.write_timeout_ms);
  w.max_connections = static_cast<int>(number(server, "maxConnections", w.max_connections));
  s.queue_size = static_cast<int>(number(server, "queueSize", s.queue_size));
  s.prune_interval_ms = number(server, "pruneIntervalMs", s.prune_interval_ms);
  s.shutdown_grace_ms = number(server, "shutdownGraceMs", s.shutdown_grace_ms);
  s.max_sessions = static_cast<int>(number(server, "maxSessions", s.max_sessions));
  s.access_log = server.value("accessLog", true);
  if (server.contains("drainMs")) s.drain_ms = number(server, "drainMs", 0);
  if (const auto c = server.find("cluster"); c != server.end()) {
    ClusterSettings cluster;
    cluster.node_id = c->value("nodeId", "");
    cluster.advertise_url = c->value("advertiseUrl", "");
    cluster.heartbeat_ms = number(*c, "heartbeatMs", cluster.heartbeat_ms);
    cluster.node_down_after_ms = number(*c, "nodeDownAfterMs", cluster.node_down_after_ms);
    s.cluster = std::move(cluster);
  }
  ISOL8_TRY(read_maxima(server.contains("limits") ? server["limits"] : empty, s));
  ISOL8_TRY(read_allowances(server.contains("allow") ? server["allow"] : empty, s));
  return s;
}

Result<void> finish_cluster_settings(ServerSettings& s, const std::optional<std::string>& node_id,
                                     const std::optional<std::string>& advertise_url) {
  if (node_id || advertise_url) {
    if (!s.cluster) s.cluster = ClusterSettings{};
    if (node_id) s.cluster->node_id = *node_id;
    if (advertise_url) s.cluster->advertise_url = *advertise_url;
  }
  if (!s.cluster) return ok();
  ClusterSettings& c = s.cluster.value();
  if (c.node_id.empty()) {
    if (c.advertise_url.empty()) {  // a cluster section with only timings: not a node
      s.cluster.reset();
      return ok();
    }
    return make_error("An advertise URL needs a node id (--node-id or server.cluster.nodeId)");
  }
  // The id travels in a header and in log lines: keep it to a safe alphabet.
  const bool id_ok =
      c.node_id.size() <= 64 && c.node_id.find_first_not_of(
                                    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVW"
                                    "XYZ0123456789._-") == std::string::npos;
  if (!id_ok) {
    return make_error(fmt::format(
        "Invalid node id: {} (1-64 characters of letters, digits, '.', '_' and '-')", c.node_id));
  }
  const bool postgres = s.auth_db && (s.auth_db->rfind("postgres://", 0) == 0 ||
                                      s.auth_db->rfind("postgresql://", 0) == 0);
  if (!postgres) {
    return make_error(
        "A cluster node needs a PostgreSQL auth DB (--auth-db postgresql://...): the nodes share "
        "their keys and where their sessions are there");
  }
  if (c.advertise_url.empty()) {
    c.advertise_url = fmt::format("http://127.0.0.1:{}", s.port);
  } else if (c.advertise_url.rfind("http://", 0) != 0) {
    return make_error(fmt::format(
        "Invalid advertise URL: {} (expected http://host:port; nodes talk plain HTTP to each "
        "other on the cluster's private network)",
        c.advertise_url));
  }
  while (c.advertise_url.size() > 7 && c.advertise_url.back() == '/') c.advertise_url.pop_back();
  if (!s.drain_ms) s.drain_ms = 3000;
  return ok();
}

Result<std::pair<uint16_t, std::string>> resolve_port(const std::optional<std::string>& flag,
                                                      const char* isol8_port, const char* port) {
  std::string raw;
  std::string source;
  if (flag) {
    raw = *flag;
    source = "--port";
  } else if (isol8_port != nullptr && *isol8_port != '\0') {
    raw = isol8_port;
    source = "ISOL8_PORT";
  } else if (port != nullptr && *port != '\0') {
    raw = port;
    source = "PORT";
  } else {
    return std::pair<uint16_t, std::string>{3000, "default"};
  }
  bool digits = !raw.empty() && raw.size() <= 5;
  for (char c : raw) digits = digits && c >= '0' && c <= '9';
  const int value = digits ? std::stoi(raw) : 0;
  if (value < 1 || value > 65535) {
    return make_error(fmt::format("Invalid port from {}: {}. Expected 1-65535.", source, raw));
  }
  return std::pair<uint16_t, std::string>{static_cast<uint16_t>(value), source};
}

}  // namespace isol8::server
