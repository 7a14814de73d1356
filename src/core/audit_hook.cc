#include "core/audit_hook.h"

#include "audit/audit_log.h"
#include "common/sha256.h"
#include "core/secret_masker.h"

namespace isol8 {

void write_audit_record(audit::AuditLog& log, const ExecutionRequest& request,
                        const ExecutionResult& result, const std::string& started_at,
                        const std::vector<std::string>& secrets) {
  // What ran: the code (fetched code for a code URL), else the command (upstream hashes either).
  static const std::string kNothing;
  const std::string& ran = request.code ? *request.code : request.cmd ? *request.cmd : kNothing;
  SecretMasker masker(secrets);
  std::string masked = masker.feed(ran);
  masked += masker.finish();
  log.record(audit::AuditEntry{request, result, started_at, sha256_hex(ran), std::move(masked),
                               result.container_id});
}

}  // namespace isol8
