// The audit log: the record's fields, includeCode/includeOutput, one whole line per record with
// several threads and processes writing at once, the file's mode, retention, and a log that
// cannot be written (warned once, the caller never fails or waits).

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <set>
#include <thread>

#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

#include "audit/audit_log.h"
#include "support/files.h"

namespace isol8::audit {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

struct SampleRun {
  ExecutionRequest request;
  ExecutionResult result;
};

SampleRun sample_run() {
  SampleRun r;
  r.request.runtime = "python";
  r.request.code = "print('token-123')";
  r.request.metadata = {{"userId", "alice"}, {"team", "blue"}};
  r.result.execution_id = "6b1d0c1e-0000-4000-8000-000000000001";
  r.result.runtime = "python";
  r.result.exit_code = 3;
  r.result.duration_ms = 42;
  r.result.timestamp = "2026-12-04T22:00:00.100Z";
  r.result.stdout_data = "***";
  r.result.stderr_data = "oops";
  r.result.resource_usage.wall_ms = 42;
  r.result.resource_usage.peak_memory_bytes = 2u << 20;
  NetworkLogEntry blocked;
  blocked.timestamp = "2026-12-04T22:00:00.050Z";
  blocked.method = "CONNECT";
  blocked.host = "evil.test";
  blocked.port = 443;
  blocked.action = "BLOCK";
  NetworkLogEntry allowed = blocked;
  allowed.action = "ALLOW";
  allowed.host = "good.test";
  r.result.network_logs = {allowed, blocked};
  return r;
}

AuditEntry entry_of(const SampleRun& r) {
  return AuditEntry{r.request, r.result,       "2026-12-04T22:00:00.000Z",
                    "abc123",  "print('***')", "sbx-1"};
}

std::vector<json> records_in(const fs::path& file) {
  std::vector<json> out;
  for (const auto& line : test::lines_of(test::slurp(file.string()))) {
    out.push_back(json::parse(line, nullptr, false));
  }
  return out;
}

TEST(AuditRecord, UpstreamFieldsAndSecurityEvents) {
  const SampleRun r = sample_run();
  AuditOptions options;
  const json j = audit_record(entry_of(r), options);
  EXPECT_EQ(j["executionId"], r.result.execution_id);
  EXPECT_EQ(j["userId"], "alice");
  EXPECT_EQ(j["timestamp"], "2026-12-04T22:00:00.000Z");
  EXPECT_EQ(j["runtime"], "python");
  EXPECT_EQ(j["codeHash"], "abc123");
  EXPECT_EQ(j["containerId"], "sbx-1");
  EXPECT_EQ(j["exitCode"], 3);
  EXPECT_EQ(j["durationMs"], 42);
  EXPECT_EQ(j["resourceUsage"]["peakMemoryMB"], 2.0);
  EXPECT_EQ(j["metadata"]["team"], "blue");
  ASSERT_EQ(j["securityEvents"].size(), 1u) << j.dump();
  EXPECT_EQ(j["securityEvents"][0]["type"], "network_blocked");
  EXPECT_EQ(j["securityEvents"][0]["host"], "evil.test");
  EXPECT_FALSE(j.contains("code"));
  EXPECT_FALSE(j.contains("stdout"));
  EXPECT_FALSE(j.contains("networkLogs"));  // upstream's privacy filter drops them
}

TEST(AuditRecord, IncludeCodeAndOutputReallyIncludeThem) {
  const SampleRun r = sample_run();
  AuditOptions options;
  options.include_code = true;
  options.include_output = true;
  options.track_resources = false;
  const json j = audit_record(entry_of(r), options);
  EXPECT_EQ(j["code"], "print('***')");
  EXPECT_EQ(j["stdout"], "***");
  EXPECT_EQ(j["stderr"], "oops");
  EXPECT_FALSE(j.contains("resourceUsage"));
}

TEST(AuditRecord, KillsAndTimeoutsAreSecurityEvents) {
  SampleRun r = sample_run();
  r.result.network_logs.clear();
  r.result.term_signal = SIGSYS;
  r.result.oom_killed = true;
  r.result.pids_limit_hit = true;
  r.result.status = RunStatus::kTimeout;
  r.request.metadata.clear();
  const json j = audit_record(entry_of(r), AuditOptions{});
  std::set<std::string> types;
  for (const auto& e : j["securityEvents"]) types.insert(e["type"].get<std::string>());
  EXPECT_EQ(types, (std::set<std::string>{"seccomp_kill", "oom_kill", "pids_limit", "timeout"}));
  EXPECT_EQ(j["userId"], "");
  EXPECT_FALSE(j.contains("metadata"));
}

TEST(AuditLog, WritesOneLinePerRecordToAFileMadeOwnerOnly) {
  test::TempDir dir("isol8-audit-test");
  AuditOptions options;
  options.enabled = true;
  options.log_dir = dir.file("logs");
  AuditLog log(options);
  const SampleRun r = sample_run();
  log.record(entry_of(r));
  log.record(entry_of(r));
  EXPECT_EQ(log.file(), fs::path(dir.file("logs/executions.log")));
  const auto records = records_in(log.file());
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[1]["userId"], "alice");
  struct stat st {};
  ASSERT_EQ(::stat(log.file().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_EQ(::stat(dir.file("logs").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
}

TEST(AuditLog, DirectoryFromTheEnvironmentThenTheWorkingDirectory) {
  AuditOptions options;
  ::setenv("ISOL8_AUDIT_DIR", "/var/tmp/x-audit", 1);
  EXPECT_EQ(audit_dir(options), fs::path("/var/tmp/x-audit"));
  options.log_dir = "/given";
  EXPECT_EQ(audit_dir(options), fs::path("/given"));
  ::unsetenv("ISOL8_AUDIT_DIR");
  EXPECT_EQ(audit_dir(AuditOptions{}), fs::path(".isol8_audit"));
}

TEST(AuditLog, ConcurrentThreadsAndProcessesNeverInterleave) {
  test::TempDir dir("isol8-audit-test");
  AuditOptions options;
  options.enabled = true;
  options.log_dir = dir.path();
  options.include_code = true;
  SampleRun big = sample_run();
  // Records of 64 KiB: far above a pipe's atomic size, so only O_APPEND keeps them whole.
  constexpr int kProcesses = 4;
  constexpr int kThreads = 4;
  constexpr int kPerThread = 25;
  std::vector<pid_t> children;
  for (int p = 0; p < kProcesses; ++p) {
    const pid_t pid = ::fork();
    if (pid == 0) {
      AuditLog log(options);
      std::vector<std::thread> threads;
      for (int t = 0; t < kThreads; ++t) {
        threads.emplace_back([&, p, t] {
          const std::string code(64 * 1024, static_cast<char>('a' + p * kThreads + t));
          for (int i = 0; i < kPerThread; ++i) {
            log.record(AuditEntry{big.request, big.result, "t", "h", code, ""});
          }
        });
      }
      for (auto& t : threads) t.join();
      ::_exit(0);
    }
    children.push_back(pid);
  }
  for (pid_t pid : children) {
    int status = 0;
    ::waitpid(pid, &status, 0);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  }
  const auto records = records_in(fs::path(dir.path()) / "executions.log");
  ASSERT_EQ(records.size(), size_t{kProcesses * kThreads * kPerThread});
  for (const auto& r : records) {
    ASSERT_FALSE(r.is_discarded()) << "a line was not one whole record";
    const std::string code = r["code"];
    ASSERT_EQ(code.size(), 64u * 1024);
    EXPECT_EQ(code.find_first_not_of(code[0]), std::string::npos);
  }
}

TEST(AuditLog, RetentionDeletesOnlyOldLogFiles) {
  test::TempDir dir("isol8-audit-test");
  for (const char* name : {"old.log", "old.jsonl", "old.txt", "new.log"}) {
    ASSERT_TRUE(test::spit(dir.file(name), "x\n"));
  }
  const auto now = fs::file_time_type::clock::now();
  for (const char* name : {"old.log", "old.jsonl", "old.txt"}) {
    fs::last_write_time(dir.file(name), now - std::chrono::hours(24 * 10));
  }
  EXPECT_EQ(apply_retention(dir.path(), 7, now), 2);
  EXPECT_FALSE(fs::exists(dir.file("old.log")));
  EXPECT_FALSE(fs::exists(dir.file("old.jsonl")));
  EXPECT_TRUE(fs::exists(dir.file("old.txt")));
  EXPECT_TRUE(fs::exists(dir.file("new.log")));
}

TEST(AuditLog, AnUnwritableLogIsWarnedOnceAndNeverBlocks) {
  test::TempDir dir("isol8-audit-test");
  // A FIFO where the log goes: a plain open() for writing would wait for a reader forever.
  ASSERT_EQ(::mkfifo(dir.file("executions.log").c_str(), 0600), 0);
  std::ostringstream captured;
  auto previous = spdlog::default_logger();
  spdlog::set_default_logger(std::make_shared<spdlog::logger>(
      "audit-test", std::make_shared<spdlog::sinks::ostream_sink_mt>(captured)));
  AuditOptions options;
  options.enabled = true;
  options.log_dir = dir.path();
  AuditLog log(options);
  const SampleRun r = sample_run();
  for (int i = 0; i < 3; ++i) log.record(entry_of(r));
  spdlog::set_default_logger(previous);
  const auto warnings = test::lines_of(captured.str());
  ASSERT_EQ(warnings.size(), 1u) << captured.str();
  EXPECT_NE(warnings[0].find("audit log: cannot write"), std::string::npos) << warnings[0];
}

TEST(AuditLog, PostLogScriptGetsTheLogPath) {
  test::TempDir dir("isol8-audit-test");
  const std::string script = dir.file("post.sh");
  ASSERT_TRUE(test::spit(script, "#!/bin/sh\necho \"$1\" > \"$(dirname \"$1\")/post-ran\"\n"));
  ::chmod(script.c_str(), 0755);
  AuditOptions options;
  options.enabled = true;
  options.log_dir = dir.path();
  options.post_log_script = script;
  AuditLog log(options);
  log.record(entry_of(sample_run()));
  for (int i = 0; i < 200 && !fs::exists(dir.file("post-ran")); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(test::rtrim(test::slurp(dir.file("post-ran"))), dir.file("executions.log"));
}

}  // namespace
}  // namespace isol8::audit
