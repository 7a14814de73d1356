#include "isol8/json.h"

namespace isol8 {

const char* to_string(NetworkMode mode) {
  switch (mode) {
    case NetworkMode::kNone:
      return "none";
    case NetworkMode::kHost:
      return "host";
    case NetworkMode::kFiltered:
      return "filtered";
  }
  return "none";
}

const char* to_string(BackendKind kind) {
  return kind == BackendKind::kDocker ? "docker" : "native";
}

const char* to_string(RunStatus status) {
  switch (status) {
    case RunStatus::kOk:
      return "ok";
    case RunStatus::kError:
      return "error";
    case RunStatus::kTimeout:
      return "timeout";
    case RunStatus::kOom:
      return "oom";
    case RunStatus::kKilled:
      return "killed";
  }
  return "error";
}

const char* to_string(StreamEvent::Type type) {
  switch (type) {
    case StreamEvent::Type::kStdout:
      return "stdout";
    case StreamEvent::Type::kStderr:
      return "stderr";
    case StreamEvent::Type::kExit:
      return "exit";
    case StreamEvent::Type::kError:
      return "error";
  }
  return "error";
}

nlohmann::json to_json(const NetworkLogEntry& e) {
  // Upstream's fields (path null for CONNECT), plus port and bytes.
  return {{"timestamp", e.timestamp},
          {"method", e.method},
          {"host", e.host},
          {"port", e.port},
          {"path", e.path ? nlohmann::json(*e.path) : nlohmann::json(nullptr)},
          {"action", e.action},
          {"durationMs", e.duration_ms},
          {"bytes", e.bytes}};
}

nlohmann::json to_json(const ExecutionResult& r) {
  nlohmann::json j = {
      {"stdout", r.stdout_data},     {"stderr", r.stderr_data},  {"exitCode", r.exit_code},
      {"durationMs", r.duration_ms}, {"truncated", r.truncated}, {"executionId", r.execution_id},
      {"runtime", r.runtime},        {"timestamp", r.timestamp}, {"status", to_string(r.status)},
  };
  if (r.term_signal != 0) j["signal"] = r.term_signal;
  j["oomKilled"] = r.oom_killed;
  const ResourceUsage& u = r.resource_usage;
  // Unmeasured figures are null: a zero would claim that nothing was used.
  auto measured = [&](auto value) {
    return u.cpu_and_memory_measured ? nlohmann::json(value) : nlohmann::json(nullptr);
  };
  j["resourceUsage"] = {
      {"wallMs", u.wall_ms},
      {"cpuUserMs", measured(u.cpu_user_ms)},
      {"cpuSystemMs", measured(u.cpu_system_ms)},
      {"peakMemoryBytes", measured(u.peak_memory_bytes)},
      {"peakMemoryMB", measured(static_cast<double>(u.peak_memory_bytes) / (1024.0 * 1024.0))},
  };
  j["limits"] = {{"enforced", r.limits.enforced}, {"notEnforced", r.limits.not_enforced}};
  if (!r.network_logs.empty()) {
    nlohmann::json logs = nlohmann::json::array();
    for (const auto& entry : r.network_logs) logs.push_back(to_json(entry));
    j["networkLogs"] = std::move(logs);
  }
  // Upstream omits both unless they have something in them.
  if (!r.container_id.empty()) j["containerId"] = r.container_id;
  if (!r.files.empty()) j["files"] = r.files;
  return j;
}

nlohmann::json to_json(ExecutionResult&& r) {
  std::string out = std::move(r.stdout_data);
  std::string err = std::move(r.stderr_data);
  r.stdout_data.clear();
  r.stderr_data.clear();
  nlohmann::json j = to_json(static_cast<const ExecutionResult&>(r));
  j["stdout"] = std::move(out);
  j["stderr"] = std::move(err);
  return j;
}

nlohmann::json to_json(const ExecutionRequest& r) {
  nlohmann::json j = {{"runtime", r.runtime}};
  if (r.code) j["code"] = *r.code;
  if (r.code_url) j["codeUrl"] = *r.code_url;
  if (r.code_hash) j["codeHash"] = *r.code_hash;
  if (r.allow_insecure_code_url) j["allowInsecureCodeUrl"] = true;
  if (r.cmd) j["cmd"] = *r.cmd;
  if (r.stdin_data) j["stdin"] = *r.stdin_data;
  if (!r.env.empty()) j["env"] = r.env;
  if (r.timeout_ms) j["timeoutMs"] = *r.timeout_ms;
  if (!r.file_extension.empty()) j["fileExtension"] = r.file_extension;
  if (r.workdir) j["workdir"] = *r.workdir;
  if (!r.setup_script.empty()) j["setupScript"] = r.setup_script;
  if (!r.files.empty()) j["files"] = r.files;
  // Ours: upstream's wire has no modes; its servers ignore the key.
  if (!r.file_modes.empty()) j["fileModes"] = r.file_modes;
  if (!r.install_packages.empty()) j["installPackages"] = r.install_packages;
  if (!r.output_paths.empty()) j["outputPaths"] = r.output_paths;
  if (!r.metadata.empty()) j["metadata"] = r.metadata;
  return j;
}

nlohmann::json to_json(const StreamEvent& e) {
  return {{"type", to_string(e.type)}, {"data", e.data}, {"phase", e.phase}};
}

}  // namespace isol8
