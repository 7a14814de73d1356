#include "audit/audit_log.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <thread>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "common/unique_fd.h"

extern char** environ;

namespace isol8::audit {
namespace {

constexpr const char* kFileName = "executions.log";

// One write() of the whole line: O_APPEND makes the kernel place it at the end in one piece.
// Returns 0, or the errno of the failure (EIO for a short write).
int write_whole(int fd, const std::string& line) {
  for (;;) {
    const ssize_t n = ::write(fd, line.data(), line.size());
    if (n < 0 && errno == EINTR) continue;  // nothing was written
    if (n < 0) return errno;
    return static_cast<size_t>(n) == line.size() ? 0 : EIO;
  }
}

}  // namespace

std::filesystem::path audit_dir(const AuditOptions& options) {
  if (!options.log_dir.empty()) return options.log_dir;
  if (const char* env = std::getenv("ISOL8_AUDIT_DIR"); env != nullptr && *env != '\0') {
    return env;
  }
  return ".isol8_audit";
}

int apply_retention(const std::filesystem::path& dir, int64_t days,
                    std::filesystem::file_time_type now) {
  if (days <= 0) return 0;
  const auto cutoff = now - std::chrono::hours(24) * days;
  int deleted = 0;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
    const std::string ext = e.path().extension().string();
    if ((ext != ".log" && ext != ".jsonl") || !e.is_regular_file(ec)) continue;
    const auto modified = e.last_write_time(ec);
    if (!ec && modified < cutoff && std::filesystem::remove(e.path(), ec)) ++deleted;
  }
  return deleted;
}

AuditLog::AuditLog(AuditOptions options) : options_(std::move(options)) {
  to_stdout_ = options_.destination == "stdout";
  if (to_stdout_) return;
  dir_ = audit_dir(options_);
  file_ = dir_ / kFileName;
  std::error_code ec;
  // A directory made here is the runner's alone; an existing one keeps its owner's choice.
  if (std::filesystem::create_directories(dir_, ec)) ::chmod(dir_.c_str(), 0700);
  const int deleted =
      apply_retention(dir_, options_.retention_days, std::filesystem::file_time_type::clock::now());
  if (deleted > 0)
    spdlog::debug("audit: retention deleted {} file(s) in {}", deleted, dir_.string());
}

void AuditLog::warn_once(std::atomic<bool>& flag, const std::string& message) {
  if (!flag.exchange(true)) spdlog::warn("{}", message);
}

bool AuditLog::append(const std::string& line) {
  if (to_stdout_) {
    const int err = write_whole(STDOUT_FILENO, "AUDIT_LOG: " + line);
    if (err != 0)
      warn_once(write_warned_,
                "audit log: cannot write to stdout: " + std::string(std::strerror(err)));
    return err == 0;
  }
  // Opened per record: a log rotated or deleted between runs is recreated, and no descriptor is
  // held by a long-lived engine.
  UniqueFd fd(::open(file_.c_str(),
                     O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK, 0600));
  int err = fd ? 0 : errno;
  if (err == ENOENT) {
    std::error_code ec;
    std::filesystem::create_directories(dir_, ec);
    fd = UniqueFd(::open(
        file_.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK, 0600));
    err = fd ? 0 : errno;
  }
  struct stat st {};
  if (err == 0 && (::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode))) err = EINVAL;
  if (err == 0) err = write_whole(fd.get(), line);
  if (err != 0) {
    warn_once(write_warned_,
              fmt::format("audit log: cannot write {}: {} (records are dropped)", file_.string(),
                          err == EINVAL ? "not a regular file" : std::strerror(err)));
  }
  return err == 0;
}

void AuditLog::run_post_script() {
  if (options_.post_log_script.empty() || to_stdout_) return;
  const std::string script = options_.post_log_script;
  const std::string log = file_.string();
  char* argv[] = {const_cast<char*>(script.c_str()), const_cast<char*>(log.c_str()), nullptr};
  pid_t pid = -1;
  const int err = ::posix_spawn(&pid, script.c_str(), nullptr, nullptr, argv, environ);
  if (err != 0) {
    warn_once(script_warned_, fmt::format("audit log: cannot run postLogScript {}: {}", script,
                                          std::strerror(err)));
    return;
  }
  // Reaped when it ends, by a thread nobody joins: the run does not wait for the script.
  std::thread([pid] {
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
  }).detach();
}

void AuditLog::record(const AuditEntry& entry) {
  const std::string line =
      audit_record(entry, options_).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) +
      "\n";
  if (append(line)) run_post_script();
}

}  // namespace isol8::audit
