#include "isol8/json.h"

#include <string>

#include <gtest/gtest.h>

namespace isol8 {
namespace {

ExecutionResult sample_result() {
  ExecutionResult r;
  r.stdout_data = "hello\n\"quoted\"";
  r.stderr_data = "warn";
  r.exit_code = 3;
  r.duration_ms = 42;
  r.truncated = true;
  r.execution_id = "0f8fad5b-d9cb-469f-a165-70867728950e";
  r.runtime = "python";
  r.timestamp = "2026-01-02T03:04:05.678Z";
  r.status = RunStatus::kError;
  return r;
}

TEST(ResultJson, UsesUpstreamFieldNames) {
  const nlohmann::json j = to_json(sample_result());
  EXPECT_EQ(j.at("stdout"), "hello\n\"quoted\"");
  EXPECT_EQ(j.at("stderr"), "warn");
  EXPECT_EQ(j.at("exitCode"), 3);
  EXPECT_EQ(j.at("durationMs"), 42);
  EXPECT_EQ(j.at("truncated"), true);
  EXPECT_EQ(j.at("executionId"), "0f8fad5b-d9cb-469f-a165-70867728950e");
  EXPECT_EQ(j.at("runtime"), "python");
  EXPECT_EQ(j.at("timestamp"), "2026-01-02T03:04:05.678Z");
  EXPECT_EQ(j.at("status"), "error");
}

TEST(ResultJson, FilesAndContainerIdOnlyWhenSet) {
  ExecutionResult r = sample_result();
  auto j = to_json(r);
  EXPECT_FALSE(j.contains("files"));
  EXPECT_FALSE(j.contains("containerId"));
  r.files["/sandbox/out.txt"] = "aGk=";
  r.container_id = "isol8-abc";
  j = to_json(r);
  EXPECT_EQ(j["files"]["/sandbox/out.txt"], "aGk=");
  EXPECT_EQ(j["containerId"], "isol8-abc");
}

TEST(ResultJson, FieldTypes) {
  const nlohmann::json j = to_json(sample_result());
  EXPECT_TRUE(j.is_object());
  EXPECT_TRUE(j.at("stdout").is_string());
  EXPECT_TRUE(j.at("exitCode").is_number_integer());
  EXPECT_TRUE(j.at("durationMs").is_number_integer());
  EXPECT_TRUE(j.at("truncated").is_boolean());
}

TEST(ResultJson, HasNoSnakeCaseNames) {
  const nlohmann::json j = to_json(sample_result());
  for (const char* name :
       {"stdout_data", "stderr_data", "exit_code", "duration_ms", "execution_id"}) {
    EXPECT_FALSE(j.contains(name)) << name;
  }
}

TEST(ResultJson, StatusNames) {
  ExecutionResult r;
  const std::pair<RunStatus, const char*> cases[] = {{RunStatus::kOk, "ok"},
                                                     {RunStatus::kError, "error"},
                                                     {RunStatus::kTimeout, "timeout"},
                                                     {RunStatus::kOom, "oom"},
                                                     {RunStatus::kKilled, "killed"}};
  for (const auto& [status, name] : cases) {
    r.status = status;
    EXPECT_EQ(to_json(r).at("status"), name);
  }
}

TEST(ResultJson, SignalOnlyWhenTheProgramWasKilledByOne) {
  ExecutionResult r;
  EXPECT_FALSE(to_json(r).contains("signal"));
  r.term_signal = 9;
  EXPECT_EQ(to_json(r).at("signal"), 9);
}

TEST(ResultJson, NegativeExitCodeAndBinaryOutputSurviveARoundTrip) {
  ExecutionResult r;
  r.exit_code = -1;
  r.stdout_data = std::string("a\0b", 3);
  const nlohmann::json back = nlohmann::json::parse(to_json(r).dump());
  EXPECT_EQ(back.at("exitCode"), -1);
  EXPECT_EQ(back.at("stdout").get<std::string>(), std::string("a\0b", 3));
}

TEST(StreamEventJson, HasTypeDataAndPhase) {
  StreamEvent e{StreamEvent::Type::kStdout, "out", "code"};
  EXPECT_EQ(to_json(e), (nlohmann::json{{"type", "stdout"}, {"data", "out"}, {"phase", "code"}}));
}

TEST(StreamEventJson, TypeNames) {
  const std::pair<StreamEvent::Type, const char*> cases[] = {{StreamEvent::Type::kStdout, "stdout"},
                                                             {StreamEvent::Type::kStderr, "stderr"},
                                                             {StreamEvent::Type::kExit, "exit"},
                                                             {StreamEvent::Type::kError, "error"}};
  for (const auto& [type, name] : cases) {
    StreamEvent e;
    e.type = type;
    EXPECT_EQ(to_json(e).at("type"), name);
  }
}

TEST(StreamEventJson, ExitEventCarriesTheCodeAsAString) {
  StreamEvent e{StreamEvent::Type::kExit, "137", "code"};
  const nlohmann::json j = to_json(e);
  EXPECT_TRUE(j.at("data").is_string());
  EXPECT_EQ(j.at("data"), "137");
}

TEST(StreamEventJson, PhaseDefaultsToCodeAndSetupIsKept) {
  StreamEvent e;
  EXPECT_EQ(to_json(e).at("phase"), "code");
  e.phase = "setup";
  EXPECT_EQ(to_json(e).at("phase"), "setup");
}

TEST(EnumNames, NetworkAndBackend) {
  EXPECT_STREQ(to_string(NetworkMode::kNone), "none");
  EXPECT_STREQ(to_string(NetworkMode::kHost), "host");
  EXPECT_STREQ(to_string(NetworkMode::kFiltered), "filtered");
  EXPECT_STREQ(to_string(BackendKind::kNative), "native");
  EXPECT_STREQ(to_string(BackendKind::kDocker), "docker");
}

TEST(JsonNetworkLogs, UpstreamFieldsAndNullPath) {
  ExecutionResult r;
  NetworkLogEntry connect;
  connect.timestamp = "2026-11-26T12:00:00Z";
  connect.method = "CONNECT";
  connect.host = "pypi.org";
  connect.port = 443;
  connect.action = "BLOCK";
  r.network_logs.push_back(connect);
  const auto j = to_json(r);
  ASSERT_TRUE(j.contains("networkLogs"));
  const auto& e = j["networkLogs"][0];
  EXPECT_EQ(e["method"], "CONNECT");
  EXPECT_EQ(e["host"], "pypi.org");
  EXPECT_EQ(e["port"], 443);
  EXPECT_TRUE(e["path"].is_null());
  EXPECT_EQ(e["action"], "BLOCK");
  EXPECT_EQ(e["durationMs"], 0);
  EXPECT_FALSE(to_json(ExecutionResult{}).contains("networkLogs"));
}

TEST(Json, RequestRoundTripsWithUpstreamNames) {
  const nlohmann::json in = {
      {"runtime", "python"},          {"codeUrl", "https://a.test/x.py"}, {"codeHash", "ab"},
      {"allowInsecureCodeUrl", true}, {"metadata", {{"userId", "u"}}},    {"timeoutMs", 500},
      {"env", {{"A", "1"}}}};
  auto r = request_from_json(in);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->code_url, "https://a.test/x.py");
  EXPECT_EQ(r->code_hash, "ab");
  EXPECT_TRUE(r->allow_insecure_code_url);
  EXPECT_EQ(r->metadata.at("userId"), "u");
  EXPECT_EQ(r->timeout_ms, 500);
  EXPECT_FALSE(r->code);
  EXPECT_EQ(to_json(*r), in);
  auto bad = request_from_json({{"runtime", "python"}, {"codeUrl", 7}});
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().message, "request.codeUrl must be a string");
  bad = request_from_json({{"runtime", "python"}, {"metadata", {{"userId", 1}}}});
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().message, "request.metadata.userId must be a string");
}

TEST(RequestJson, FileModesTravelWithTheFiles) {
  const nlohmann::json in = {{"runtime", "bash"},
                             {"files", {{"/sandbox/run.sh", "echo hi"}}},
                             {"fileModes", {{"/sandbox/run.sh", 0755}}}};
  auto r = request_from_json(in);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->file_modes.at("/sandbox/run.sh"), 0755u);
  EXPECT_EQ(to_json(*r), in);
  auto bad = request_from_json({{"runtime", "bash"}, {"fileModes", {{"/sandbox/x", 070000}}}});
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().message, "request.fileModes./sandbox/x must be a file mode from 0 to 4095");
  bad = request_from_json({{"runtime", "bash"}, {"fileModes", {{"/sandbox/x", "755"}}}});
  ASSERT_FALSE(bad);
}

}  // namespace
}  // namespace isol8
