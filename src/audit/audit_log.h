#pragma once
// The audit log (upstream's AuditLogger, with its bugs fixed): one JSON line per execution
// appended to <logDir | $ISOL8_AUDIT_DIR | ./.isol8_audit>/executions.log, or printed to stdout
// as "AUDIT_LOG: <json>".
//   - A record is one write() of one whole line on a descriptor opened with O_APPEND, so that
//     concurrent runners (CLI processes, the server's threads) never interleave their lines.
//   - The file is created 0600 (its directory 0700): records may carry code and output.
//   - Writing never fails or holds up the run: a failure (a full disk, an unwritable directory,
//     a path that is not a regular file) is reported once per log with a warning, then the
//     records it loses are dropped quietly. Opening never blocks (O_NONBLOCK: a FIFO planted at
//     the path is refused, not waited on).
//   - postLogScript runs after each record with the log file's path as its only argument,
//     spawned directly (no shell) and reaped by a thread of its own: nobody waits for it.
//   - Retention: when the log is opened, *.log and *.jsonl files in the directory last modified
//     more than retentionDays ago are deleted.

#include <atomic>
#include <chrono>
#include <filesystem>
#include <string>

#include "audit/audit_record.h"
#include "isol8/types.h"

namespace isol8::audit {

// <logDir>, else $ISOL8_AUDIT_DIR, else ./.isol8_audit.
std::filesystem::path audit_dir(const AuditOptions& options);

// Deletes *.log / *.jsonl files in `dir` last modified before `now - days`; the number deleted.
int apply_retention(const std::filesystem::path& dir, int64_t days,
                    std::filesystem::file_time_type now);

class AuditLog {
 public:
  explicit AuditLog(AuditOptions options);
  AuditLog(const AuditLog&) = delete;
  AuditLog& operator=(const AuditLog&) = delete;

  // Writes the entry's record (see above: never fails the caller).
  void record(const AuditEntry& entry);

  const std::filesystem::path& file() const { return file_; }

 private:
  // False (after the one warning) when the line could not be written whole.
  bool append(const std::string& line);
  void run_post_script();
  void warn_once(std::atomic<bool>& flag, const std::string& message);

  AuditOptions options_;
  bool to_stdout_ = false;
  std::filesystem::path dir_;
  std::filesystem::path file_;
  std::atomic<bool> write_warned_{false};
  std::atomic<bool> script_warned_{false};
};

}  // namespace isol8::audit
