// The audit log with real executions, on every backend: one record per execution with upstream's
// fields, the user from the request's metadata, the code and output included (masked) when
// asked, the time limit and the sandbox's kills recorded as security events, and the file made
// 0600.

#include <sys/stat.h>

#include <algorithm>
#include <set>

#include "common/sha256.h"
#include "support/test_support.h"

namespace isol8::test {
namespace {

using nlohmann::json;

class Audit : public BackendTest {};

std::vector<json> records_in(const std::string& file) {
  std::vector<json> out;
  for (const auto& line : lines_of(slurp(file))) out.push_back(json::parse(line, nullptr, false));
  return out;
}

TEST_P(Audit, OneRecordPerExecutionWithItsFields) {
  TempDir logs("isol8-native-audit");
  Options o = options();
  o.audit.enabled = true;
  o.audit.log_dir = logs.path();
  o.audit.include_code = true;
  o.audit.include_output = true;
  o.secrets["API_TOKEN"] = "s3cr3t-value";
  auto engine = Engine::create(o);
  ASSERT_TRUE(engine) << engine.error().message;

  ExecutionRequest ok = python_request(
      "import os\n# token s3cr3t-value\nprint('out', os.environ['API_TOKEN'])\nraise "
      "SystemExit(3)");
  ok.metadata = {{"userId", "alice"}, {"ticket", "T-1"}};
  auto first = (*engine)->execute(ok);
  ASSERT_TRUE(first) << first.error().message;

  ExecutionRequest slow = python_request("import time\ntime.sleep(30)");
  slow.timeout_ms = 400;
  auto second = (*engine)->execute(slow);
  ASSERT_TRUE(second) << second.error().message;

  const std::string file = logs.file("executions.log");
  const auto records = records_in(file);
  ASSERT_EQ(records.size(), 2u) << slurp(file);
  const json& r = records[0];
  ASSERT_FALSE(r.is_discarded());
  EXPECT_EQ(r["executionId"], first->execution_id);
  EXPECT_EQ(r["userId"], "alice");
  EXPECT_EQ(r["metadata"]["ticket"], "T-1");
  EXPECT_EQ(r["runtime"], "python");
  EXPECT_EQ(r["codeHash"], sha256_hex(*ok.code));
  EXPECT_EQ(r["exitCode"], 3);
  EXPECT_EQ(r["durationMs"], first->duration_ms);
  EXPECT_TRUE(r["timestamp"].is_string());
  EXPECT_LE(r["timestamp"].get<std::string>(), first->timestamp);  // the start
  EXPECT_TRUE(r.contains("resourceUsage")) << r.dump();
  EXPECT_TRUE(r.contains("containerId")) << r.dump();
  EXPECT_EQ(r["stdout"], "out ***");
  EXPECT_FALSE(contains(r["code"].get<std::string>(), "s3cr3t-value")) << r.dump();
  EXPECT_TRUE(contains(r["code"].get<std::string>(), "# token ***")) << r.dump();
  EXPECT_FALSE(contains(slurp(file), "s3cr3t-value"));

  const json& t = records[1];
  EXPECT_EQ(t["userId"], "");
  ASSERT_TRUE(t.contains("securityEvents")) << t.dump();
  EXPECT_EQ(t["securityEvents"][0]["type"], "timeout") << t.dump();

  struct stat st {};
  ASSERT_EQ(::stat(file.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

// The sandbox's limits striking are security events: the memory limit (OOM kill) and, on the
// native backend, which reads the cgroup's pids.events, a fork refused at the pids limit (Docker's
// API has no such counter). A seccomp kill (SIGSYS) is mapped in tests/unit/audit_log_test.cc.
TEST_P(Audit, TheMemoryAndProcessLimitsAreSecurityEvents) {
  ISOL8_REQUIRE_LIMITS();
  TempDir logs("isol8-audit-events");
  Options o = options();
  o.audit.enabled = true;
  o.audit.log_dir = logs.path();
  o.memory_limit_bytes = 64ull << 20;
  o.pids_limit = 16;
  auto engine = Engine::create(o);
  ASSERT_TRUE(engine) << engine.error().message;

  auto oom = (*engine)->execute(python_request("b = bytearray(512 * 1024 * 1024)\nprint(len(b))"));
  ASSERT_TRUE(oom) << oom.error().message;
  auto forks =
      (*engine)->execute(python_request("import os, signal, time\n"
                                        "kids = []\n"
                                        "try:\n"
                                        "    for _ in range(40):\n"
                                        "        pid = os.fork()\n"
                                        "        if pid == 0:\n"
                                        "            time.sleep(30)\n"
                                        "            os._exit(0)\n"
                                        "        kids.append(pid)\n"
                                        "except OSError as e:\n"
                                        "    print('refused after', len(kids))\n"
                                        "for pid in kids:\n"
                                        "    os.kill(pid, signal.SIGKILL)\n"));
  ASSERT_TRUE(forks) << forks.error().message;
  EXPECT_TRUE(contains(forks->stdout_data, "refused after")) << forks->stdout_data;

  const std::string file = logs.file("executions.log");
  const auto records = records_in(file);
  ASSERT_EQ(records.size(), 2u) << slurp(file);
  auto types_of = [](const json& record) {
    std::set<std::string> types;
    for (const auto& e : record.value("securityEvents", json::array())) {
      types.insert(e["type"].get<std::string>());
      EXPECT_TRUE(e["timestamp"].is_string()) << e.dump();
    }
    return types;
  };
  EXPECT_TRUE(types_of(records[0]).count("oom_kill")) << records[0].dump();
  if (is_docker()) {
    EXPECT_FALSE(types_of(records[1]).count("pids_limit")) << records[1].dump();
  } else {
    EXPECT_TRUE(types_of(records[1]).count("pids_limit")) << records[1].dump();
  }
}

ISOL8_BACKEND_SUITE(Audit);

}  // namespace
}  // namespace isol8::test
