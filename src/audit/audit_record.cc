#include "audit/audit_record.h"

#include <signal.h>

namespace isol8::audit {

nlohmann::json security_events(const ExecutionResult& result) {
  nlohmann::json events = nlohmann::json::array();
  for (const NetworkLogEntry& entry : result.network_logs) {
    if (entry.action != "BLOCK") continue;
    events.push_back({{"type", "network_blocked"},
                      {"timestamp", entry.timestamp},
                      {"host", entry.host},
                      {"port", entry.port},
                      {"method", entry.method}});
  }
  if (result.term_signal == SIGSYS) {
    events.push_back(
        {{"type", "seccomp_kill"}, {"timestamp", result.timestamp}, {"signal", "SIGSYS"}});
  }
  if (result.oom_killed) events.push_back({{"type", "oom_kill"}, {"timestamp", result.timestamp}});
  if (result.pids_limit_hit) {
    events.push_back({{"type", "pids_limit"}, {"timestamp", result.timestamp}});
  }
  if (result.status == RunStatus::kTimeout) {
    events.push_back({{"type", "timeout"}, {"timestamp", result.timestamp}});
  }
  return events;
}

nlohmann::json audit_record(const AuditEntry& entry, const AuditOptions& options) {
  const ExecutionRequest& request = entry.request;
  const ExecutionResult& result = entry.result;
  const auto user = request.metadata.find("userId");
  nlohmann::json record = {
      {"executionId", result.execution_id},
      {"userId", user == request.metadata.end() ? "" : user->second},
      {"timestamp", entry.started_at},
      {"runtime", result.runtime},
      {"codeHash", entry.code_sha256},
      {"containerId", entry.sandbox_id},
      {"exitCode", result.exit_code},
      {"durationMs", result.duration_ms},
  };
  if (options.track_resources) {
    const ResourceUsage& u = result.resource_usage;
    auto measured = [&](auto value) {
      return u.cpu_and_memory_measured ? nlohmann::json(value) : nlohmann::json(nullptr);
    };
    record["resourceUsage"] = {
        {"wallMs", u.wall_ms},
        {"cpuUserMs", measured(u.cpu_user_ms)},
        {"cpuSystemMs", measured(u.cpu_system_ms)},
        {"peakMemoryMB", measured(static_cast<double>(u.peak_memory_bytes) / (1024.0 * 1024.0))},
    };
  }
  if (nlohmann::json events = security_events(result); !events.empty()) {
    record["securityEvents"] = std::move(events);
  }
  if (!request.metadata.empty()) record["metadata"] = request.metadata;
  if (options.include_code) record["code"] = entry.masked_code;
  if (options.include_output) {
    // The result's text: masked and capped as the caller got it.
    record["stdout"] = result.stdout_data;
    record["stderr"] = result.stderr_data;
  }
  return record;
}

}  // namespace isol8::audit
