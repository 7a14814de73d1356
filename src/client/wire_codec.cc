#include "client/wire_codec.h"

#include <fmt/format.h>

#include "isol8/json.h"
#include "isol8/options.h"

namespace isol8::client {
namespace {

using nlohmann::json;

bool valid_utf8(std::string_view s) {
  // nlohmann's own check: dumping with the strict handler throws on invalid UTF-8.
  try {
    (void)json(std::string(s)).dump();
    return true;
  } catch (const json::type_error&) {
    return false;
  }
}

Result<void> require_text(std::string_view value, std::string_view what) {
  if (!valid_utf8(value)) {
    return make_error(fmt::format(
        "{} is not UTF-8 text, which a remote run cannot send (upstream's wire carries text "
        "only); use a session and put_file for binary files",
        what));
  }
  return ok();
}

// The type of `j[key]` must be `expected` when present; null counts as absent.
Result<void> check_type(const json& j, const char* key, json::value_t expected, const char* what) {
  if (!j.contains(key) || j[key].is_null()) return ok();
  const json& v = j[key];
  const bool good =
      expected == json::value_t::number_integer ? v.is_number() : v.type() == expected;
  if (!good) return make_error(fmt::format("The server's reply has a bad \"{}\": {}", key, what));
  return ok();
}

}  // namespace

Result<json> request_to_json(const ExecutionRequest& r) {
  if (r.code) ISOL8_TRY(require_text(*r.code, "The code"));
  if (r.cmd) ISOL8_TRY(require_text(*r.cmd, "The command"));
  if (r.stdin_data) ISOL8_TRY(require_text(*r.stdin_data, "stdin"));
  for (const auto& [path, content] : r.files) {
    ISOL8_TRY(require_text(content, "The file " + path));
  }
  return to_json(r);
}

json options_to_json(const Options& o) {
  json j = {
      {"network", to_string(o.network)},
      {"timeoutMs", o.timeout_ms},
      {"memoryLimit", format_size(o.memory_limit_bytes)},
      {"cpuLimit", o.cpu_limit},
      {"pidsLimit", o.pids_limit},
      {"maxOutputSize", o.max_output_size},
      {"sandboxSize", format_size(o.sandbox_size_bytes)},
      {"tmpSize", format_size(o.tmp_size_bytes)},
  };
  if (o.network == NetworkMode::kFiltered) {
    j["networkFilter"] = {{"whitelist", o.network_filter.whitelist},
                          {"blacklist", o.network_filter.blacklist}};
  }
  if (!o.secrets.empty()) j["secrets"] = o.secrets;
  if (!o.image.empty()) j["image"] = o.image;
  if (o.log_network) j["logNetwork"] = true;
  // The server decides (server.allow.persist); upstream's CLI sends it too.
  if (o.persist) j["persist"] = true;
  return j;
}

Result<ExecutionResult> result_from_json(const json& j) { return result_from_json(json(j)); }

Result<ExecutionResult> result_from_json(json&& j) {
  if (!j.is_object()) return make_error("The server's reply is not a JSON object");
  using vt = json::value_t;
  ISOL8_TRY(check_type(j, "stdout", vt::string, "expected a string"));
  ISOL8_TRY(check_type(j, "stderr", vt::string, "expected a string"));
  ISOL8_TRY(check_type(j, "exitCode", vt::number_integer, "expected a number"));
  ISOL8_TRY(check_type(j, "durationMs", vt::number_integer, "expected a number"));
  ISOL8_TRY(check_type(j, "truncated", vt::boolean, "expected true or false"));
  ISOL8_TRY(check_type(j, "files", vt::object, "expected an object"));
  ISOL8_TRY(check_type(j, "networkLogs", vt::array, "expected an array"));
  if (!j.contains("exitCode")) return make_error("The server's reply has no \"exitCode\"");
  ExecutionResult r;
  if (j.contains("stdout")) r.stdout_data = std::move(j["stdout"].get_ref<std::string&>());
  if (j.contains("stderr")) r.stderr_data = std::move(j["stderr"].get_ref<std::string&>());
  r.exit_code = j["exitCode"].get<int>();
  r.duration_ms = j.value("durationMs", int64_t{0});
  r.truncated = j.value("truncated", false);
  r.execution_id = j.value("executionId", "");
  r.runtime = j.value("runtime", "");
  r.timestamp = j.value("timestamp", "");
  r.container_id = j.value("containerId", "");
  r.oom_killed = j.value("oomKilled", false);
  if (j.contains("signal") && j["signal"].is_number()) r.term_signal = j["signal"].get<int>();
  if (j.contains("files") && j["files"].is_object()) {
    for (const auto& [path, content] : j["files"].items()) {
      if (!content.is_string()) return make_error("The server's reply has a bad \"files\" entry");
      r.files[path] = content.get<std::string>();
    }
  }
  if (j.contains("networkLogs") && j["networkLogs"].is_array()) {
    for (const auto& e : j["networkLogs"]) {
      if (!e.is_object()) continue;
      NetworkLogEntry entry;
      entry.timestamp = e.value("timestamp", "");
      entry.method = e.value("method", "");
      entry.host = e.value("host", "");
      entry.port = e.value("port", 0);
      if (e.contains("path") && e["path"].is_string()) entry.path = e["path"].get<std::string>();
      entry.action = e.value("action", "");
      entry.duration_ms = e.value("durationMs", int64_t{0});
      entry.bytes = e.value("bytes", uint64_t{0});
      r.network_logs.push_back(std::move(entry));
    }
  }
  if (j.contains("limits") && j["limits"].is_object()) {
    const json& l = j["limits"];
    for (const auto& [key, into] :
         {std::pair<const char*, std::vector<std::string>*>{"enforced", &r.limits.enforced},
          {"notEnforced", &r.limits.not_enforced}}) {
      if (!l.contains(key) || !l[key].is_array()) continue;
      for (const auto& name : l[key]) {
        if (name.is_string()) into->push_back(name.get<std::string>());
      }
    }
  }
  // Ours says; upstream's does not, so the status follows from what it does say.
  const std::string status = j.value("status", "");
  if (status == "ok") {
    r.status = RunStatus::kOk;
  } else if (status == "timeout" ||
             (status.empty() && r.stderr_data.find(kTimedOutMarker) != std::string::npos)) {
    r.status = RunStatus::kTimeout;
  } else if (status == "oom") {
    r.status = RunStatus::kOom;
  } else if (status == "killed") {
    r.status = RunStatus::kKilled;
  } else {
    r.status = r.exit_code == 0 ? RunStatus::kOk : RunStatus::kError;
  }
  r.resource_usage.cpu_and_memory_measured = false;
  if (j.contains("resourceUsage") && j["resourceUsage"].is_object()) {
    const json& u = j["resourceUsage"];
    r.resource_usage.wall_ms = u.value("wallMs", r.duration_ms);
    if (u.contains("cpuUserMs") && u["cpuUserMs"].is_number()) {
      r.resource_usage.cpu_and_memory_measured = true;
      r.resource_usage.cpu_user_ms = u["cpuUserMs"].get<int64_t>();
      r.resource_usage.cpu_system_ms = u.value("cpuSystemMs", int64_t{0});
      r.resource_usage.peak_memory_bytes = u.value("peakMemoryBytes", uint64_t{0});
    }
  }
  return r;
}

Result<StreamEvent> event_from_json(const json& j) {
  if (!j.is_object() || !j.contains("type") || !j["type"].is_string()) {
    return make_error("The server sent a stream event without a \"type\"");
  }
  StreamEvent e;
  const std::string type = j["type"].get<std::string>();
  if (type == "stdout") {
    e.type = StreamEvent::Type::kStdout;
  } else if (type == "stderr") {
    e.type = StreamEvent::Type::kStderr;
  } else if (type == "exit") {
    e.type = StreamEvent::Type::kExit;
  } else if (type == "error") {
    e.type = StreamEvent::Type::kError;
  } else {
    return make_error(fmt::format("The server sent a stream event of unknown type \"{}\"", type));
  }
  if (j.contains("data") && j["data"].is_string()) e.data = j["data"].get<std::string>();
  e.phase = j.contains("phase") && j["phase"].is_string() ? j["phase"].get<std::string>() : "";
  return e;
}

}  // namespace isol8::client
