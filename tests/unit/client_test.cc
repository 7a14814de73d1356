// The remote client's pieces that need no server: the server URL, the wire codec, the
// credentials file, query encoding.
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "client/credentials.h"
#include "client/remote_engine.h"
#include "common/server_url.h"
#include "client/wire_codec.h"

namespace isol8::client {
namespace {

using nlohmann::json;

TEST(ServerUrl, ParsesUpstreamForms) {
  auto u = parse_server_url("http://localhost:3000/");
  ASSERT_TRUE(u) << u.error().message;
  EXPECT_FALSE(u->tls);
  EXPECT_EQ(u->host, "localhost");
  EXPECT_EQ(u->port, "3000");
  EXPECT_EQ(u->base_path, "");
  EXPECT_EQ(u->canonical(), "http://localhost:3000");

  u = parse_server_url("https://isol8.example.com/api");
  ASSERT_TRUE(u);
  EXPECT_TRUE(u->tls);
  EXPECT_EQ(u->port, "443");
  EXPECT_EQ(u->base_path, "/api");
  EXPECT_EQ(u->host_header(), "isol8.example.com");

  u = parse_server_url("http://[::1]:8080");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->host, "::1");
  EXPECT_EQ(u->host_header(), "[::1]:8080");
}

TEST(ServerUrl, RefusesWhatIsNotAServer) {
  for (const char* bad : {"localhost:3000", "ftp://h", "http://", "http://h:0", "http://h:70000",
                          "http://h:x", "http://u@h", "http://h/?q", "http://[::1"}) {
    auto u = parse_server_url(bad);
    EXPECT_FALSE(u) << bad;
    if (!u) {
      EXPECT_NE(u.error().message.find(bad), std::string::npos) << u.error().message;
    }
  }
}

TEST(WireCodec, RequestUsesUpstreamNames) {
  ExecutionRequest r;
  r.runtime = "python";
  r.code = "print(1)";
  r.stdin_data = "in";
  r.timeout_ms = 500;
  r.env["A"] = "b";
  r.files["/sandbox/a.txt"] = "x";
  r.output_paths = {"/sandbox/o"};
  auto j = request_to_json(r);
  ASSERT_TRUE(j);
  EXPECT_EQ((*j)["runtime"], "python");
  EXPECT_EQ((*j)["code"], "print(1)");
  EXPECT_EQ((*j)["stdin"], "in");
  EXPECT_EQ((*j)["timeoutMs"], 500);
  EXPECT_EQ((*j)["env"]["A"], "b");
  EXPECT_EQ((*j)["files"]["/sandbox/a.txt"], "x");
  EXPECT_EQ((*j)["outputPaths"][0], "/sandbox/o");
  EXPECT_FALSE(j->contains("cmd"));
}

TEST(WireCodec, BinaryFilesCannotTravelAsText) {
  ExecutionRequest r;
  r.runtime = "bash";
  r.cmd = "true";
  r.files["/sandbox/bin"] = std::string("\xff\xfe", 2);
  auto j = request_to_json(r);
  ASSERT_FALSE(j);
  EXPECT_NE(j.error().message.find("/sandbox/bin"), std::string::npos);
}

TEST(WireCodec, OptionsAsUpstreamSpellsThem) {
  Options o;
  o.network = NetworkMode::kFiltered;
  o.network_filter.whitelist = {"^pypi\\.org$"};
  const json j = options_to_json(o);
  EXPECT_EQ(j["network"], "filtered");
  EXPECT_EQ(j["memoryLimit"], "512m");
  EXPECT_EQ(j["networkFilter"]["whitelist"][0], "^pypi\\.org$");
  EXPECT_FALSE(j.contains("secrets"));
}

TEST(WireCodec, ReadsAnUpstreamResult) {
  const json j = json::parse(R"({"stdout":"hi","stderr":"x\n--- EXECUTION TIMED OUT ---",
    "exitCode":137,"durationMs":1001,"truncated":false,"executionId":"e","runtime":"python",
    "timestamp":"t","containerId":"c","files":{"/sandbox/o":"aGk="},
    "resourceUsage":{"cpuPercent":1.5,"memoryMB":20,"networkBytesIn":0,"networkBytesOut":0}})");
  auto r = result_from_json(j);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->stdout_data, "hi");
  EXPECT_EQ(r->exit_code, 137);
  EXPECT_EQ(r->status, RunStatus::kTimeout);
  EXPECT_EQ(r->container_id, "c");
  EXPECT_EQ(r->files.at("/sandbox/o"), "aGk=");
  EXPECT_FALSE(r->resource_usage.cpu_and_memory_measured);
}

TEST(WireCodec, ReadsOurResultsLimits) {
  auto r = result_from_json(json::parse(
      R"({"exitCode":0,"limits":{"enforced":["memory","pids"],"notEnforced":["cpu"]}})"));
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->limits.enforced, (std::vector<std::string>{"memory", "pids"}));
  EXPECT_EQ(r->limits.not_enforced, (std::vector<std::string>{"cpu"}));
}

TEST(WireCodec, WrongTypesNameTheField) {
  auto r = result_from_json(json::parse(R"({"exitCode":"0"})"));
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("exitCode"), std::string::npos);
  EXPECT_FALSE(result_from_json(json::parse(R"({"stdout":"no exit code"})")));
  EXPECT_FALSE(result_from_json(json::parse("[1]")));
}

TEST(WireCodec, StreamEvents) {
  auto e = event_from_json(json::parse(R"({"type":"exit","data":"0","phase":"setup"})"));
  ASSERT_TRUE(e);
  EXPECT_EQ(e->type, StreamEvent::Type::kExit);
  EXPECT_EQ(e->phase, "setup");
  e = event_from_json(json::parse(R"({"type":"error","data":"boom"})"));
  ASSERT_TRUE(e);
  EXPECT_EQ(e->phase, "");
  EXPECT_FALSE(event_from_json(json::parse(R"({"type":"bogus"})")));
  EXPECT_FALSE(event_from_json(json::parse(R"({"data":"x"})")));
}

TEST(Credentials, SavedWithMode0600AndReadBack) {
  const auto dir = std::filesystem::temp_directory_path() / "isol8-cred-test";
  std::filesystem::remove_all(dir);
  const auto path = dir / ".isol8" / "credentials.json";
  ASSERT_TRUE(save_credentials(path, {"http://h:1", "isol8_tok", "2999-01-01T00:00:00.000Z", "k"}));
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto loaded = load_credentials(path);
  ASSERT_TRUE(loaded);
  ASSERT_TRUE(*loaded);
  EXPECT_EQ((*loaded)->token, "isol8_tok");
  EXPECT_FALSE(expired((*loaded)->expires_at));
  EXPECT_TRUE(expired("2001-01-01T00:00:00.000Z"));
  std::ofstream(path) << "not json";
  EXPECT_FALSE(load_credentials(path));
  std::filesystem::remove_all(dir);
  auto none = load_credentials(path);
  ASSERT_TRUE(none);
  EXPECT_FALSE(*none);
}

TEST(RemoteEngine, QueryValuesAreEncodedAsUrlSearchParams) {
  EXPECT_EQ(encode_query_value("/sandbox/a b.txt"), "%2Fsandbox%2Fa+b.txt");
  EXPECT_EQ(encode_query_value("x&y=z"), "x%26y%3Dz");
}

TEST(RemoteEngine, ServerErrorPrefersTheBodysError) {
  EXPECT_EQ(server_error({500, "Internal Server Error", R"({"error":"boom"})"}), "boom");
  EXPECT_EQ(server_error({404, "Not Found", "404 Not Found"}), "Not Found");
}

}  // namespace
}  // namespace isol8::client
