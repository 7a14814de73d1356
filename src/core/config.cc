#include "isol8/config.h"

#include <nlohmann/json.hpp>

#include <fmt/format.h>

#include "common/fs_util.h"
#include "isol8/options.h"
#include "rootfs/store.h"

// Assigns the value of `expr` (a Result) to `lhs`, or returns its error.
#define ISOL8_ASSIGN(lhs, expr)                 \
  do {                                          \
    auto isol8_assign_r = (expr);               \
    if (!isol8_assign_r) {                      \
      return std::move(isol8_assign_r).error(); \
    }                                           \
    lhs = std::move(isol8_assign_r).value();    \
  } while (0)

namespace isol8 {
namespace {

using nlohmann::json;

template <class T>
Result<void> as_void(const Result<T>& r) {
  if (!r) return r.error();
  return ok();
}

// The accepted shape of a config file. A string names a type, an array lists the allowed
// values, an object is a nested section whose keys are the only ones allowed.
const json& schema() {
  static const json kSchema = json::parse(R"({
    "$schema": "string",
    "debug": "bool",
    "maxConcurrent": "count",
    "backend": "backend",
    "defaults": {
      "timeoutMs": "timeout", "memoryLimit": "memory", "cpuLimit": "cpu",
      "network": "network", "sandboxSize": "tmpfs", "tmpSize": "tmpfs",
      "readonlyRootFs": "bool", "pidsLimit": "pids", "maxOutputSize": "maxOutput"
    },
    "network": {"whitelist": "hostPatterns", "blacklist": "hostPatterns"},
    "cleanup": {"autoPrune": "bool", "maxContainerAgeMs": "count"},
    "poolStrategy": "poolStrategy",
    "poolSize": "poolSize",
    "security": {"seccomp": "seccomp", "customProfilePath": "string"},
    "remoteCode": {
      "enabled": "bool", "allowedSchemes": "strings", "allowedHosts": "hostPatterns",
      "blockedHosts": "hostPatterns", "maxCodeSize": "count", "fetchTimeoutMs": "timeout",
      "requireHash": "bool", "enableCache": "bool", "cacheTtl": "positive",
      "maxRedirects": "redirects"
    },
    "audit": {
      "enabled": "bool", "destination": ["filesystem", "file", "stdout"], "logDir": "string", "postLogScript": "string",
      "trackResources": "bool", "retentionDays": "count", "includeCode": "bool",
      "includeOutput": "bool"
    },
    "auth": {
      "enabled": "bool", "connectionString": "string", "defaultTtlMs": "positive",
      "cleanupIntervalMs": "positive"
    },
    "prebuiltImages": "prebuiltImages",
    "dependencies": {
      "python": "packages", "node": "packages", "bun": "packages", "deno": "packages",
      "bash": "packages"
    },
    "server": {
      "bind": "string", "maxBodyBytes": "count", "maxHeaderBytes": "count",
      "maxUrlBytes": "count", "requestTimeoutMs": "count", "idleTimeoutMs": "count",
      "writeTimeoutMs": "count", "maxConnections": "count", "queueSize": "count",
      "pruneIntervalMs": "count", "shutdownGraceMs": "count", "maxSessions": "count",
      "accessLog": "bool", "drainMs": "count",
      "cluster": {"nodeId": "string", "advertiseUrl": "string", "heartbeatMs": "positive",
                  "nodeDownAfterMs": "positive"},
      "limits": {
        "timeoutMs": "timeout", "memoryLimit": "memory", "cpuLimit": "cpu",
        "pidsLimit": "pids", "maxOutputSize": "maxOutput", "sandboxSize": "tmpfs",
        "tmpSize": "tmpfs"
      },
      "allow": {
        "network": "network", "seccompUnconfined": "bool", "seccompCustom": "bool",
        "writableRootFs": "bool", "debug": "bool", "persist": "bool", "remoteCode": "bool",
        "images": "strings"
      }
    },
    "native": {"rootDir": "string", "idMapBase": "idMapBase", "hostname": "string",
               "networkPool": "string", "filteredMode": "filteredMode",
               "rootfsStore": "string"}
  })");
  return kSchema;
}

bool is_strings(const json& v) {
  if (!v.is_array()) return false;
  for (const auto& e : v) {
    if (!e.is_string()) return false;
  }
  return true;
}

// The typed options (fixed sets of values, numbers and sizes with a stated range) are checked by
// the parsers the CLI uses for the same values (isol8/options.h), so that a file and a flag are
// refused alike. The message names the key; ok() for a type these do not cover.
constexpr const char* kParsedTypes[] = {"backend",      "network", "seccomp",  "filteredMode",
                                        "poolStrategy", "timeout", "memory",   "cpu",
                                        "pids",         "tmpfs",   "maxOutput"};

Result<void> check_parsed(const std::string& type, const json& v, const std::string& key) {
  const std::string text = v.is_string() ? v.get<std::string>() : v.dump();
  const std::string subject = "\"" + key + "\"";
  if (type == "backend") return as_void(parse_backend_kind(text, subject));
  if (type == "network") return as_void(parse_network_mode(text, subject));
  if (type == "seccomp") return as_void(parse_seccomp_mode(text, subject));
  if (type == "filteredMode") return as_void(parse_filtered_mode(text, subject));
  if (type == "poolStrategy") return as_void(parse_pool_strategy(text, subject));
  if (type == "timeout") return as_void(parse_timeout_ms(text, subject));
  if (type == "memory") return as_void(parse_memory_limit(text, subject));
  if (type == "cpu") return as_void(parse_cpu_limit(text, subject));
  if (type == "pids") return as_void(parse_pids_limit(text, subject));
  if (type == "tmpfs") return as_void(parse_tmpfs_size(text, subject));
  if (type == "maxOutput") return as_void(parse_max_output(text, subject));
  return ok();
}

// Returns a description of what `v` should be, or "" if it matches `type`.
std::string check_type(const std::string& type, const json& v) {
  for (const char* parsed : kParsedTypes) {
    if (type == parsed) return "";  // check_parsed's
  }
  if (type == "string") return v.is_string() ? "" : "a string";
  if (type == "bool") return v.is_boolean() ? "" : "true or false";
  if (type == "positive") return v.is_number() && v.get<double>() > 0 ? "" : "a positive number";
  if (type == "count") {
    return v.is_number_integer() && v.get<int64_t>() > 0 ? "" : "a positive whole number";
  }
  if (type == "idMapBase") {
    // The base of a 65536-id range that must fit in 32 bits and stay clear of the ids that
    // real host users and system services have.
    const bool fits = v.is_number_integer() && v.get<int64_t>() >= 65536 &&
                      v.get<int64_t>() + 65536 <= int64_t{1} << 32;
    return fits ? "" : "a whole number from 65536 to 4294901760";
  }
  if (type == "strings") return is_strings(v) ? "" : "an array of strings";
  if (type == "redirects") {
    return v.is_number_integer() && v.get<int64_t>() >= 0 && v.get<int64_t>() <= 20
               ? ""
               : "a whole number from 0 to 20";
  }
  if (type == "packages") {
    // Package names become arguments of pip, npm and apt-get in the build: upstream's check.
    if (!is_strings(v)) return "an array of package names";
    for (const auto& e : v) {
      if (auto valid = rootfs::validate_package_name(e.get<std::string>()); !valid) {
        return "an array of package names (" + valid.error().message + ")";
      }
    }
    return "";
  }
  if (type == "poolSize") {
    const bool ok = (v.is_number_integer() && v.get<int64_t>() >= 0) ||
                    (v.is_object() && v.size() == 2 && v.contains("clean") && v.contains("dirty") &&
                     v["clean"].is_number_integer() && v["dirty"].is_number_integer());
    return ok ? "" : "a number or {\"clean\": n, \"dirty\": n}";
  }
  if (type == "prebuiltImages") {
    if (!v.is_array()) return "an array";
    for (const auto& e : v) {
      if (!e.is_object() || !e.contains("tag") || !e["tag"].is_string() || !e.contains("runtime") ||
          !e["runtime"].is_string() || !e.contains("installPackages") ||
          !is_strings(e["installPackages"])) {
        return "an array of {tag, runtime, installPackages[, setupScript]}";
      }
      for (const auto& [k, _] : e.items()) {
        if (k != "tag" && k != "runtime" && k != "installPackages" && k != "setupScript") {
          return "an array of {tag, runtime, installPackages[, setupScript]}";
        }
      }
    }
    return "";
  }
  return "valid";
}

Result<void> validate(const json& spec, const json& value, const std::string& path,
                      const std::string& origin) {
  if (!value.is_object()) {
    return make_error(fmt::format("Invalid config in {}: \"{}\" must be an object", origin,
                                  path.empty() ? "(top level)" : path));
  }
  for (const auto& [key, v] : value.items()) {
    const std::string where = path.empty() ? key : path + "." + key;
    if (!spec.contains(key)) {
      return make_error(fmt::format("Invalid config in {}: unknown key \"{}\"", origin, where));
    }
    const json& rule = spec[key];
    if (rule.is_object()) {
      ISOL8_TRY(validate(rule, v, where, origin));
    } else if (rule.is_array()) {
      if (!v.is_string() || std::find(rule.begin(), rule.end(), v) == rule.end()) {
        return make_error(fmt::format("Invalid config in {}: \"{}\" must be one of {}", origin,
                                      where, rule.dump()));
      }
    } else if (rule == "hostPatterns") {
      // Refused here, before anything starts, rather than when the first filtered run starts.
      if (!is_strings(v)) {
        return make_error(
            fmt::format("Invalid config in {}: \"{}\" must be an array of strings", origin, where));
      }
      ISOL8_TRY(check_host_patterns(v.get<std::vector<std::string>>(),
                                    fmt::format("config in {}: \"{}\"", origin, where)));
    } else if (auto parsed = check_parsed(rule.get<std::string>(), v, where); !parsed) {
      return make_error(fmt::format("Invalid config in {}: {}", origin, parsed.error().message));
    } else if (auto want = check_type(rule.get<std::string>(), v); !want.empty()) {
      return make_error(
          fmt::format("Invalid config in {}: \"{}\" must be {}", origin, where, want));
    }
  }
  return ok();
}

void deep_merge(json& base, const json& overlay) {
  for (const auto& [key, v] : overlay.items()) {
    if (v.is_object() && base.contains(key) && base[key].is_object() && key != "poolSize") {
      deep_merge(base[key], v);
    } else {
      base[key] = v;
    }
  }
}

}  // namespace

json default_config() {
  return json::parse(R"({
    "debug": false,
    "maxConcurrent": 10,
    "backend": "native",
    "defaults": {
      "timeoutMs": 30000, "memoryLimit": "512m", "cpuLimit": 1.0, "network": "none",
      "sandboxSize": "512m", "tmpSize": "256m", "readonlyRootFs": true
    },
    "network": {"whitelist": [], "blacklist": []},
    "cleanup": {"autoPrune": true, "maxContainerAgeMs": 3600000},
    "poolStrategy": "fast",
    "poolSize": {"clean": 1, "dirty": 1},
    "security": {"seccomp": "strict"},
    "remoteCode": {
      "enabled": false, "allowedSchemes": ["https"], "allowedHosts": [],
      "blockedHosts": ["^localhost$", "^127(?:\\.[0-9]{1,3}){3}$", "^\\[::1\\]$", "^::1$",
        "^10(?:\\.[0-9]{1,3}){3}$", "^172\\.(?:1[6-9]|2[0-9]|3[0-1])(?:\\.[0-9]{1,3}){2}$",
        "^192\\.168(?:\\.[0-9]{1,3}){2}$", "^169\\.254(?:\\.[0-9]{1,3}){2}$",
        "^metadata\\.google\\.internal$", "^169\\.254\\.169\\.254$"],
      "maxCodeSize": 10485760, "fetchTimeoutMs": 30000, "requireHash": false,
      "enableCache": true, "cacheTtl": 3600, "maxRedirects": 5
    },
    "audit": {
      "enabled": false, "destination": "filesystem", "trackResources": true,
      "retentionDays": 90, "includeCode": false, "includeOutput": false
    },
    "auth": {"enabled": false, "defaultTtlMs": 86400000, "cleanupIntervalMs": 3600000},
    "prebuiltImages": [],
    "dependencies": {},
    "native": {"idMapBase": 1000000, "hostname": "isol8"}
  })");
}

Result<json> merge_config(const json& base, const json& overlay, const std::string& origin) {
  ISOL8_TRY(validate(schema(), overlay, "", origin));
  json merged = base;
  deep_merge(merged, overlay);
  return merged;
}

Result<LoadedConfig> load_config(const std::filesystem::path& cwd,
                                 const std::optional<std::filesystem::path>& home) {
  std::vector<std::filesystem::path> candidates = {cwd / "isol8.config.json"};
  if (home) candidates.push_back(*home / ".isol8" / "config.json");
  LoadedConfig loaded{default_config(), std::nullopt};
  for (const auto& path : candidates) {
    std::error_code ec;
    if (!std::filesystem::is_regular_file(path, ec)) continue;
    auto text = read_file(path);
    if (!text) return std::move(text).error().context("while reading the config");
    json overlay = json::parse(*text, nullptr, /*allow_exceptions=*/false);
    if (overlay.is_discarded()) {
      // Parse again with exceptions on, only to get the parser's position and reason.
      try {
        [[maybe_unused]] auto unused = json::parse(*text);
      } catch (const json::parse_error& e) {
        return make_error(
            fmt::format("Invalid JSON in config file {}: {}", path.string(), e.what()));
      }
    }
    auto merged = merge_config(loaded.json, overlay, path.string());
    if (!merged) return std::move(merged).error();
    loaded.json = std::move(merged).value();
    loaded.source = path;
    break;  // the first file found wins; files are not merged with each other
  }
  return loaded;
}

Result<Options> options_from_config(const json& config) {
  // The config was validated when it was loaded; the parsers still report anything that was
  // not (a json object built in code), naming the key.
  auto text = [](const json& v) { return v.is_string() ? v.get<std::string>() : v.dump(); };
  Options o;
  const json& d = config.at("defaults");
  ISOL8_ASSIGN(o.timeout_ms, parse_timeout_ms(text(d.at("timeoutMs")), "defaults.timeoutMs"));
  ISOL8_ASSIGN(o.memory_limit_bytes,
               parse_memory_limit(text(d.at("memoryLimit")), "defaults.memoryLimit"));
  ISOL8_ASSIGN(o.cpu_limit, parse_cpu_limit(text(d.at("cpuLimit")), "defaults.cpuLimit"));
  ISOL8_ASSIGN(o.network, parse_network_mode(text(d.at("network")), "defaults.network"));
  ISOL8_ASSIGN(o.sandbox_size_bytes,
               parse_tmpfs_size(text(d.at("sandboxSize")), "defaults.sandboxSize"));
  ISOL8_ASSIGN(o.tmp_size_bytes, parse_tmpfs_size(text(d.at("tmpSize")), "defaults.tmpSize"));
  if (d.contains("pidsLimit")) {
    ISOL8_ASSIGN(o.pids_limit, parse_pids_limit(text(d["pidsLimit"]), "defaults.pidsLimit"));
  }
  if (d.contains("maxOutputSize")) {
    ISOL8_ASSIGN(o.max_output_size,
                 parse_max_output(text(d["maxOutputSize"]), "defaults.maxOutputSize"));
  }
  ISOL8_ASSIGN(o.backend, parse_backend_kind(text(config.at("backend"))));
  o.debug = config.at("debug").get<bool>();
  const json& n = config.at("native");
  if (n.contains("rootDir")) o.native.root_dir = n["rootDir"].get<std::string>();
  o.native.id_map_base = n.at("idMapBase").get<uint32_t>();
  o.native.hostname = n.at("hostname").get<std::string>();
  if (n.contains("networkPool")) o.native.network_pool = n["networkPool"].get<std::string>();
  if (n.contains("filteredMode")) {
    ISOL8_ASSIGN(o.native.filtered_mode, parse_filtered_mode(text(n["filteredMode"])));
  }
  if (n.contains("rootfsStore")) o.rootfs_store = n["rootfsStore"].get<std::string>();
  const json& net = config.at("network");
  o.network_filter.whitelist = net.value("whitelist", std::vector<std::string>{});
  o.network_filter.blacklist = net.value("blacklist", std::vector<std::string>{});
  if (config.contains("poolStrategy")) {
    ISOL8_ASSIGN(o.pool_strategy, parse_pool_strategy(text(config["poolStrategy"])));
  }
  if (config.contains("poolSize")) {
    const json& p = config["poolSize"];
    if (p.is_number()) {
      o.pool_size.clean = o.pool_size.dirty = p.get<int>();
    } else {
      o.pool_size.clean = p.value("clean", 1);
      o.pool_size.dirty = p.value("dirty", 1);
    }
  }
  const json& sec = config.at("security");
  if (sec.contains("seccomp")) {
    ISOL8_ASSIGN(o.security.seccomp, parse_seccomp_mode(text(sec["seccomp"])));
  }
  o.security.custom_profile_path = sec.value("customProfilePath", "");

  const json& rc = config.at("remoteCode");
  o.remote_code.enabled = rc.value("enabled", false);
  o.remote_code.allowed_schemes = rc.value("allowedSchemes", std::vector<std::string>{"https"});
  o.remote_code.allowed_hosts = rc.value("allowedHosts", std::vector<std::string>{});
  o.remote_code.blocked_hosts = rc.value("blockedHosts", std::vector<std::string>{});
  o.remote_code.max_code_size = rc.value("maxCodeSize", o.remote_code.max_code_size);
  if (rc.contains("fetchTimeoutMs")) {
    ISOL8_ASSIGN(o.remote_code.fetch_timeout_ms,
                 parse_timeout_ms(text(rc["fetchTimeoutMs"]), "remoteCode.fetchTimeoutMs"));
  }
  o.remote_code.require_hash = rc.value("requireHash", false);
  o.remote_code.max_redirects = rc.value("maxRedirects", o.remote_code.max_redirects);

  const json& audit = config.at("audit");
  o.audit.enabled = audit.value("enabled", false);
  o.audit.destination = audit.value("destination", o.audit.destination);
  o.audit.log_dir = audit.value("logDir", "");
  o.audit.post_log_script = audit.value("postLogScript", "");
  o.audit.track_resources = audit.value("trackResources", true);
  o.audit.retention_days = audit.value("retentionDays", o.audit.retention_days);
  o.audit.include_code = audit.value("includeCode", false);
  o.audit.include_output = audit.value("includeOutput", false);
  return o;
}

}  // namespace isol8
