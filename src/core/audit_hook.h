#pragma once
// The engine's side of the audit log: what it knows about a finished execution, handed to
// audit::AuditLog (src/audit).

#include <string>
#include <vector>

#include "isol8/types.h"

namespace isol8 {

namespace audit {
class AuditLog;
}

// Writes the record of `result` (never fails the run: audit/audit_log.h). `secrets` are masked
// in the code the record may carry.
void write_audit_record(audit::AuditLog& log, const ExecutionRequest& request,
                        const ExecutionResult& result, const std::string& started_at,
                        const std::vector<std::string>& secrets);

}  // namespace isol8
