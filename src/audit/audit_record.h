#pragma once
// One audit record: upstream's JSONL fields (executionId, userId, timestamp, runtime, codeHash,
// containerId, exitCode, durationMs, resourceUsage, securityEvents, metadata), plus what upstream
// declares and never fills: the code (includeCode) and the output (includeOutput).

#include <string>

#include <nlohmann/json.hpp>

#include "isol8/types.h"

namespace isol8::audit {

// What the engine knows about a finished execution.
struct AuditEntry {
  const ExecutionRequest& request;
  const ExecutionResult& result;
  std::string started_at;   // ISO 8601, when the execution started (upstream's timestamp)
  std::string code_sha256;  // hex SHA-256 of the code (or the command) that ran
  std::string masked_code;  // the code with the secrets masked (for includeCode)
  std::string sandbox_id;   // the sandbox's (container's) id, "" when unknown
};

// The security events of a run, each {type, timestamp, ...}: network requests the filter
// blocked ("network_blocked", with host and method), a seccomp kill ("seccomp_kill", SIGSYS),
// an OOM kill ("oom_kill") and the time limit ("timeout").
nlohmann::json security_events(const ExecutionResult& result);

nlohmann::json audit_record(const AuditEntry& entry, const AuditOptions& options);

}  // namespace isol8::audit
