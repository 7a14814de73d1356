// The audit log through the CLI (audit.* in isol8.config.json): 4 runners x 100 runs at once give
// 400 whole, valid lines; a full disk or an unwritable directory is warned about once and never
// fails the run; a seccomp kill is recorded as a security event.

#include <signal.h>
#include <sys/stat.h>

#include <filesystem>
#include <set>
#include <thread>

#include "support/test_support.h"

namespace isol8::test {
namespace {

using nlohmann::json;

class AuditCli : public NativeTest {
 protected:
  // A CLI working directory whose config turns the audit log on, into `log_dir`.
  void configure(const std::string& log_dir) {
    spit(dir_.file("isol8.config.json"),
         json{{"audit", {{"enabled", true}, {"logDir", log_dir}}}}.dump());
  }
  CliOptions options() const {
    CliOptions o;
    o.cwd = dir_.path();
    o.env["HOME"] = dir_.path();
    return o;
  }
  TempDir dir_{"isol8-native-audit"};
};

// A process the seccomp filter kills (SIGSYS) is a security event. The default profile answers
// EPERM, so a custom profile kills getppid(2).
TEST_F(AuditCli, ASeccompKillIsASecurityEvent) {
  const std::string logs = dir_.file("logs");
  const std::string profile = dir_.file("kill-getppid.json");
  spit(profile, R"({"defaultAction": "SCMP_ACT_ALLOW",
    "syscalls": [{"names": ["getppid"], "action": "SCMP_ACT_KILL_PROCESS"}]})");
  Options o;
  o.native.id_map_base = unique_id_map_base();
  o.audit.enabled = true;
  o.audit.log_dir = logs;
  o.security.seccomp = SeccompMode::kCustom;
  o.security.custom_profile_path = profile;
  auto engine = Engine::create(o);
  ASSERT_TRUE(engine) << engine.error().message;
  auto r = (*engine)->execute(
      python_request("import os\nprint('before', flush=True)\nos.getppid()\nprint('after')"));
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->stdout_data, "before");
  EXPECT_EQ(r->term_signal, SIGSYS);
  const auto lines = lines_of(slurp(logs + "/executions.log"));
  ASSERT_EQ(lines.size(), 1u);
  const json record = json::parse(lines[0], nullptr, false);
  ASSERT_TRUE(record.contains("securityEvents")) << lines[0];
  EXPECT_EQ(record["securityEvents"][0]["type"], "seccomp_kill") << lines[0];
  EXPECT_EQ(record["securityEvents"][0]["signal"], "SIGSYS") << lines[0];
}

// destination "stdout": the record is one line on the runner's stdout, after the program's output.
TEST_F(AuditCli, StdoutDestinationWritesOneLine) {
  spit(dir_.file("isol8.config.json"),
       json{{"audit", {{"enabled", true}, {"destination", "stdout"}}}}.dump());
  const CliRun r = run_cli_with({"run", "-r", "bash", "-e", "echo program"}, options());
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  const auto lines = lines_of(r.out);
  ASSERT_EQ(lines.size(), 2u) << r.out;
  EXPECT_EQ(lines[0], "program");
  ASSERT_EQ(lines[1].rfind("AUDIT_LOG: ", 0), 0u) << lines[1];
  const json record = json::parse(lines[1].substr(11), nullptr, false);
  ASSERT_FALSE(record.is_discarded()) << lines[1];
  EXPECT_EQ(record["runtime"], "bash");
  EXPECT_EQ(record["exitCode"], 0);
  EXPECT_FALSE(std::filesystem::exists(dir_.file(".isol8_audit"))) << "no log file as well";
}

TEST_F(AuditCli, ConcurrentRunnersWriteWholeLines) {
  const std::string logs = dir_.file("logs");
  configure(logs);
  constexpr int kRunners = 4;
  constexpr int kRuns = 100;
  std::vector<std::thread> runners;
  std::atomic<int> failures{0};
  for (int i = 0; i < kRunners; ++i) {
    runners.emplace_back([&, i] {
      for (int n = 0; n < kRuns; ++n) {
        const CliRun r = run_cli_with(
            {"run", "--cmd", "echo runner-" + std::to_string(i) + "-" + std::to_string(n)},
            options());
        if (r.exit_code != 0) ++failures;
      }
    });
  }
  for (auto& t : runners) t.join();
  EXPECT_EQ(failures.load(), 0);
  const auto lines = lines_of(slurp(logs + "/executions.log"));
  ASSERT_EQ(lines.size(), size_t{kRunners * kRuns});
  std::set<std::string> ids;
  for (const auto& line : lines) {
    const json j = json::parse(line, nullptr, false);
    ASSERT_FALSE(j.is_discarded()) << line;
    EXPECT_EQ(j["exitCode"], 0);
    ids.insert(j["executionId"].get<std::string>());
  }
  EXPECT_EQ(ids.size(), size_t{kRunners * kRuns}) << "every execution has a record of its own";
}

TEST_F(AuditCli, UnwritableDirectoryWarnsOnceAndTheRunGoesOn) {
  configure("/proc/self/no-such-dir/audit");
  const CliRun r = run_cli_with({"run", "--cmd", "echo still runs"}, options());
  EXPECT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_EQ(rtrim(r.out), "still runs");
  size_t warnings = 0;
  for (const auto& line : lines_of(r.err)) warnings += contains(line, "audit log: cannot write");
  EXPECT_EQ(warnings, 1u) << describe(r);
}

TEST_F(AuditCli, AFullDiskWarnsOnceAndTheRunGoesOn) {
  if (::geteuid() != 0) GTEST_SKIP() << "mounting a small tmpfs needs root";
  const std::string logs = dir_.file("full");
  ::mkdir(logs.c_str(), 0700);
  configure(logs);
  CliOptions o = options();
  // A 64 KiB tmpfs filled up before the CLI starts, in a mount namespace of the run's own.
  o.launcher = {"/usr/bin/unshare",
                "-m",
                "--propagation",
                "private",
                "/bin/sh",
                "-c",
                "mount -t tmpfs -o size=64k tmpfs \"$0\" && "
                "(head -c 1048576 /dev/zero > \"$0/fill\" 2>/dev/null; true) && exec \"$@\"",
                logs};
  const CliRun r = run_cli_with({"run", "--cmd", "echo still runs"}, o);
  EXPECT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_EQ(rtrim(r.out), "still runs");
  EXPECT_TRUE(contains(r.err, "No space left on device")) << describe(r);
  size_t warnings = 0;
  for (const auto& line : lines_of(r.err)) warnings += contains(line, "audit log: cannot write");
  EXPECT_EQ(warnings, 1u) << describe(r);
}

}  // namespace
}  // namespace isol8::test
