#include "server/policy.h"

#include <algorithm>

#include <fmt/format.h>

#include "isol8/options.h"
#include "server/http_error.h"

namespace isol8::server {
namespace {

using nlohmann::json;

Error bad_type(std::string_view key, std::string_view what) {
  return http_error(400, fmt::format("options.{} must be {}", key, what));
}

Error refused(std::string_view key, std::string_view why) {
  return http_error(403, fmt::format("options.{} is not allowed by this server: {}", key, why));
}

// Numbers and sizes arrive as JSON numbers or upstream's size strings ("512m"); both go through
// the parsers the CLI and the config use, so the ranges and messages are the same.
std::string text(const json& v) { return v.is_string() ? v.get<std::string>() : v.dump(); }

template <class T, class Parse>
Result<void> read_limit(const json& o, const char* key, Parse parse, T maximum, T& out,
                        const std::string& shown_max) {
  const auto it = o.find(key);
  if (it == o.end() || it->is_null()) return ok();
  if (!it->is_string() && !it->is_number()) return bad_type(key, "a number or a size string");
  auto value = parse(text(*it), fmt::format("options.{}", key));
  if (!value) return http_error(400, std::move(value).error().message);
  if (*value > maximum) {
    return refused(key, fmt::format("the maximum is {}: got {}", shown_max, text(*it)));
  }
  out = *value;
  return ok();
}

int network_rank(NetworkMode m) {
  switch (m) {
    case NetworkMode::kNone:
      return 0;
    case NetworkMode::kFiltered:
      return 1;
    case NetworkMode::kHost:
      return 2;
  }
  return 2;
}

Result<std::vector<std::string>> strings(const json& v, const std::string& key) {
  if (!v.is_array()) return bad_type(key, "an array of strings");
  std::vector<std::string> out;
  for (const auto& e : v) {
    if (!e.is_string()) return bad_type(key, "an array of strings");
    out.push_back(e.get<std::string>());
  }
  return out;
}

Result<void> apply_network(const json& c, const ServerSettings& s, Options& o) {
  if (const auto it = c.find("network"); it != c.end() && !it->is_null()) {
    if (!it->is_string()) return bad_type("network", "one of none, filtered, host");
    auto mode = parse_network_mode(it->get<std::string>(), "options.network");
    if (!mode) return http_error(400, std::move(mode).error().message);
    if (network_rank(*mode) > network_rank(s.allow.max_network)) {
      return refused("network", fmt::format("\"{}\" is looser than the server's \"{}\"",
                                            to_string(*mode), to_string(s.allow.max_network)));
    }
    o.network = *mode;
  }
  if (const auto it = c.find("networkFilter"); it != c.end() && !it->is_null()) {
    if (!it->is_object()) return bad_type("networkFilter", "an object");
    if (const auto w = it->find("whitelist"); w != it->end() && !w->is_null()) {
      auto list = strings(*w, "networkFilter.whitelist");
      if (!list) return std::move(list).error();
      // An empty server whitelist allows every host, so any client list narrows it; a non-empty
      // one may only be narrowed to patterns it already has.
      const auto& mine = s.base_options.network_filter.whitelist;
      for (const auto& pattern : *list) {
        if (!mine.empty() && std::find(mine.begin(), mine.end(), pattern) == mine.end()) {
          return refused("networkFilter.whitelist",
                         fmt::format("\"{}\" is not in the server's whitelist", pattern));
        }
      }
      if (!list->empty()) o.network_filter.whitelist = std::move(*list);
    }
    if (const auto b = it->find("blacklist"); b != it->end() && !b->is_null()) {
      auto list = strings(*b, "networkFilter.blacklist");
      if (!list) return std::move(list).error();
      // Blocking more is always a tightening: the client's patterns add to the server's.
      for (auto& pattern : *list) o.network_filter.blacklist.push_back(std::move(pattern));
    }
    auto valid = check_host_patterns(o.network_filter.whitelist, "options.networkFilter.whitelist");
    if (!valid) return http_error(400, std::move(valid).error().message);
    valid = check_host_patterns(o.network_filter.blacklist, "options.networkFilter.blacklist");
    if (!valid) return http_error(400, std::move(valid).error().message);
  }
  return ok();
}

Result<void> apply_security(const json& c, const ServerSettings& s, Options& o) {
  const auto it = c.find("security");
  if (it == c.end() || it->is_null()) return ok();
  if (!it->is_object()) return bad_type("security", "an object");
  if (const auto m = it->find("seccomp"); m != it->end() && !m->is_null()) {
    if (!m->is_string()) return bad_type("security.seccomp", "one of strict, unconfined, custom");
    auto mode = parse_seccomp_mode(m->get<std::string>(), "options.security.seccomp");
    if (!mode) return http_error(400, std::move(mode).error().message);
    if (*mode == SeccompMode::kUnconfined && !s.allow.unconfined_seccomp) {
      return refused("security.seccomp", "\"unconfined\" needs server.allow.seccompUnconfined");
    }
    if (*mode == SeccompMode::kCustom && !s.allow.custom_seccomp) {
      return refused("security.seccomp", "\"custom\" needs server.allow.seccompCustom");
    }
    o.security.seccomp = *mode;
  }
  if (const auto p = it->find("customProfilePath"); p != it->end() && !p->is_null()) {
    if (!p->is_string()) return bad_type("security.customProfilePath", "a string");
    // A path is read on the server's host: never from a client unless allowed.
    if (!s.allow.custom_seccomp) {
      return refused("security.customProfilePath", "it needs server.allow.seccompCustom");
    }
    o.security.custom_profile_path = p->get<std::string>();
  }
  return ok();
}

// Flags that loosen when true (or, for readonlyRootFs, when false).
Result<void> apply_flags(const json& c, const ServerSettings& s, Options& o) {
  auto flag = [&](const char* key, bool& out) -> Result<void> {
    const auto it = c.find(key);
    if (it == c.end() || it->is_null()) return ok();
    if (!it->is_boolean()) return bad_type(key, "true or false");
    out = it->get<bool>();
    return ok();
  };
  bool readonly_root = true;
  ISOL8_TRY(flag("readonlyRootFs", readonly_root));
  if (!readonly_root && !s.allow.writable_root) {
    return refused("readonlyRootFs", "false needs server.allow.writableRootFs");
  }
  bool debug = false;
  ISOL8_TRY(flag("debug", debug));
  if (debug && !s.allow.debug) return refused("debug", "true needs server.allow.debug");
  o.debug = o.debug || debug;
  bool persist = false;
  ISOL8_TRY(flag("persist", persist));
  if (persist && !s.allow.persist) return refused("persist", "true needs server.allow.persist");
  o.persist = o.persist || persist;
  ISOL8_TRY(flag("logNetwork", o.log_network));
  if (const auto it = c.find("remoteCode"); it != c.end() && !it->is_null()) {
    if (!s.allow.remote_code) {
      return refused("remoteCode",
                     "the server's remoteCode policy applies (server.allow.remoteCode)");
    }
  }
  return ok();
}

Result<void> apply_image(const json& c, const ServerSettings& s, Options& o) {
  const auto it = c.find("image");
  if (it == c.end() || it->is_null()) return ok();
  if (!it->is_string()) return bad_type("image", "a string");
  const std::string image = it->get<std::string>();
  if (image == o.image) return ok();
  if (std::find(s.allow.images.begin(), s.allow.images.end(), image) == s.allow.images.end()) {
    return refused("image", fmt::format("\"{}\" is not in server.allow.images", image));
  }
  o.image = image;
  return ok();
}

Result<void> apply_secrets(const json& c, Options& o) {
  const auto it = c.find("secrets");
  if (it == c.end() || it->is_null()) return ok();
  if (!it->is_object()) return bad_type("secrets", "an object of strings");
  for (const auto& [name, value] : it->items()) {
    if (!value.is_string()) return bad_type("secrets." + name, "a string");
    o.secrets[name] = value.get<std::string>();
  }
  return ok();
}

}  // namespace

Result<Options> apply_client_options(const json& client, const ServerSettings& s) {
  Options o = s.base_options;
  if (client.is_null()) return o;
  if (!client.is_object()) return http_error(400, "options must be an object");
  const Maxima& m = s.maxima;
  ISOL8_TRY(read_limit(client, "timeoutMs", parse_timeout_ms, m.timeout_ms, o.timeout_ms,
                       std::to_string(m.timeout_ms)));
  ISOL8_TRY(read_limit(client, "memoryLimit", parse_memory_limit, m.memory_bytes,
                       o.memory_limit_bytes, format_size(m.memory_bytes)));
  ISOL8_TRY(read_limit(client, "cpuLimit", parse_cpu_limit, m.cpus, o.cpu_limit,
                       fmt::format("{}", m.cpus)));
  ISOL8_TRY(read_limit(client, "pidsLimit", parse_pids_limit, m.pids, o.pids_limit,
                       std::to_string(m.pids)));
  ISOL8_TRY(read_limit(client, "maxOutputSize", parse_max_output, m.max_output, o.max_output_size,
                       std::to_string(m.max_output)));
  ISOL8_TRY(read_limit(client, "sandboxSize", parse_tmpfs_size, m.sandbox_bytes,
                       o.sandbox_size_bytes, format_size(m.sandbox_bytes)));
  ISOL8_TRY(read_limit(client, "tmpSize", parse_tmpfs_size, m.tmp_bytes, o.tmp_size_bytes,
                       format_size(m.tmp_bytes)));
  ISOL8_TRY(apply_network(client, s, o));
  ISOL8_TRY(apply_security(client, s, o));
  ISOL8_TRY(apply_flags(client, s, o));
  ISOL8_TRY(apply_image(client, s, o));
  ISOL8_TRY(apply_secrets(client, o));
  // poolStrategy, poolSize, mode and audit are the server's (upstream drops the first two and
  // forces the others); unknown keys are ignored, as upstream does.
  return o;
}

Result<void> check_request_limits(const ExecutionRequest& request, const ServerSettings& s) {
  if (request.timeout_ms && *request.timeout_ms > s.maxima.timeout_ms) {
    return http_error(403, fmt::format("request.timeoutMs is not allowed by this server: the "
                                       "maximum is {}: got {}",
                                       s.maxima.timeout_ms, *request.timeout_ms));
  }
  return ok();
}

}  // namespace isol8::server
