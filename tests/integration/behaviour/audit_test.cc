// The audit log with real executions, on every backend: one record per execution with upstream's
// fields, the user from the request's metadata, the code and output included (masked) when
// asked, the time limit recorded as a security event, and the file made 0600.

#include <sys/stat.h>

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

ISOL8_BACKEND_SUITE(Audit);

}  // namespace
}  // namespace isol8::test
