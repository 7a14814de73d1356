// The server tier: the real `isol8 serve` on a loopback port, driven over HTTP, SSE and
// WebSocket by Beast clients (server_client.h): error bodies and statuses as upstream, wire
// limits, malformed requests, auth, policy refusals, the busy queue, metrics.
//
// Native backend only: none of these depends on the backend (they are decided before an engine
// runs, or by the server's own queue), and one backend keeps the tier's time down. What does
// depend on it, executions and sessions, runs on both (server_exec_test.cc,
// server_sessions_test.cc).

#include <gtest/gtest.h>

#include <unistd.h>

#include <thread>

#include "server_client.h"

namespace isol8::test {
namespace {

using nlohmann::json;

json bash(const std::string& cmd) { return {{"runtime", "bash"}, {"code", cmd}}; }

class ServerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (geteuid() != 0) GTEST_SKIP() << "the server tier runs the native backend as root";
    server_ = new TestServer(
        json{{"maxConcurrent", 2}, {"server", {{"queueSize", 2}, {"maxBodyBytes", 65536}}}});
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }
  void SetUp() override {
    if (server_ == nullptr) GTEST_SKIP() << "not root";
    ASSERT_TRUE(server_->ready()) << "the server did not answer /health";
  }
  int port() const { return server_->port(); }
  static TestServer* server_;
};
TestServer* ServerTest::server_ = nullptr;

TEST_F(ServerTest, HealthNeedsNoKey) {
  auto r = http_request(port(), "GET", "/health", "", "");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.json()["status"], "ok");
  EXPECT_TRUE(r.json()["version"].is_string());
  EXPECT_EQ(r.headers["content-type"], "application/json");
}

TEST_F(ServerTest, MissingAndInvalidKeys) {
  auto missing = http_request(port(), "GET", "/sessions", "", "");
  EXPECT_EQ(missing.status, 401);
  EXPECT_EQ(missing.body, R"({"error":"Missing Authorization header"})");
  auto wrong = http_request(port(), "GET", "/sessions", "", "nope");
  EXPECT_EQ(wrong.status, 403);
  EXPECT_EQ(wrong.body, R"({"error":"Invalid API key"})");
  // A header without "Bearer " is the token itself (upstream).
  auto bare = http_request(port(), "GET", "/sessions", "", "", {{"Authorization", kMasterKey}});
  EXPECT_EQ(bare.status, 200);
  // Unknown routes: 401 without a key, 404 text with one.
  EXPECT_EQ(http_request(port(), "GET", "/nope", "", "").status, 401);
  auto unknown = http_request(port(), "GET", "/nope");
  EXPECT_EQ(unknown.status, 404);
  EXPECT_EQ(unknown.body, "404 Not Found");
  EXPECT_EQ(http_request(port(), "GET", "/sessions/").status, 404);
}

TEST_F(ServerTest, EngineErrorsAre500Json) {
  auto r = post_json(port(), "/execute", {{"request", {{"runtime", "bash"}}}});
  EXPECT_EQ(r.status, 500);
  EXPECT_EQ(r.json()["error"],
            "ExecutionRequest must include exactly one of: code, codeUrl, or cmd.");
  auto unknown =
      post_json(port(), "/execute", {{"request", {{"runtime", "cobol"}, {"code", "x"}}}});
  EXPECT_EQ(unknown.status, 500);
  EXPECT_TRUE(contains(unknown.json()["error"].get<std::string>(), "Unknown runtime"))
      << unknown.body;
}

TEST_F(ServerTest, MalformedRequestsAre400NamingTheField) {
  auto bad_json = http_request(port(), "POST", "/execute", "{not json");
  EXPECT_EQ(bad_json.status, 400);
  EXPECT_TRUE(contains(bad_json.json()["error"].get<std::string>(), "Invalid JSON body"));
  // A number beyond a double (found by the request_json fuzzer): a 400, and the server lives on.
  auto overflow = http_request(port(), "POST", "/execute",
                               R"({"request":{"runtime":"bash","code":"x","timeoutMs":1e600}})");
  EXPECT_EQ(overflow.status, 400) << overflow.body;
  EXPECT_TRUE(contains(overflow.json()["error"].get<std::string>(), "number overflow"));
  EXPECT_EQ(http_request(port(), "GET", "/health").status, 200);
  auto no_request = post_json(port(), "/execute", json::object());
  EXPECT_EQ(no_request.status, 400);
  EXPECT_EQ(no_request.json()["error"], "request is required");
  auto wrong_type =
      post_json(port(), "/execute",
                {{"request", {{"runtime", "bash"}, {"code", "true"}, {"timeoutMs", "x"}}}});
  EXPECT_EQ(wrong_type.status, 400);
  EXPECT_TRUE(contains(wrong_type.json()["error"].get<std::string>(), "request.timeoutMs"));
  auto env = post_json(port(), "/execute",
                       {{"request", {{"runtime", "bash"}, {"code", "true"}, {"env", {{"A", 1}}}}}});
  EXPECT_EQ(env.status, 400);
  EXPECT_TRUE(contains(env.json()["error"].get<std::string>(), "request.env.A"));
  auto runtime = post_json(port(), "/execute", {{"request", {{"runtime", 5}, {"code", "x"}}}});
  EXPECT_EQ(runtime.status, 400);
  EXPECT_TRUE(contains(runtime.json()["error"].get<std::string>(), "request.runtime"));
  auto array = http_request(port(), "POST", "/execute", "[1,2]");
  EXPECT_EQ(array.status, 400);
  auto session = post_json(port(), "/execute", {{"request", bash("true")}, {"sessionId", 7}});
  EXPECT_EQ(session.status, 400);
  EXPECT_EQ(session.json()["error"], "sessionId must be a string");
}

TEST_F(ServerTest, WireLimits) {
  // Body over server.maxBodyBytes (64 KiB here): 413.
  const std::string big(70000, 'x');
  auto r = post_json(port(), "/execute", {{"request", bash("true")}, {"pad", big}});
  EXPECT_EQ(r.status, 413);
  // A URL over the cap: 414; a header block over it: 431.
  EXPECT_EQ(http_request(port(), "GET", "/health?" + std::string(9000, 'a'), "", "").status, 414);
  EXPECT_EQ(
      http_request(port(), "GET", "/health", "", "", {{"X-Pad", std::string(20000, 'a')}}).status,
      431);
  // Garbage that is not HTTP: 400, never a crash.
  const std::string reply = raw_exchange(port(), "\x01\x02garbage\r\n\r\n");
  EXPECT_TRUE(contains(reply, "400")) << reply;
  EXPECT_EQ(http_request(port(), "GET", "/health", "", "").status, 200);
}

TEST_F(ServerTest, PolicyRefusesLooserOptions) {
  struct Case {
    json options;
    int status;
    std::string names;
  };
  const std::vector<Case> cases = {
      {{{"network", "host"}}, 403, "options.network"},
      {{{"network", "filtered"}}, 403, "options.network"},
      {{{"memoryLimit", "4g"}}, 403, "options.memoryLimit"},
      {{{"timeoutMs", 999999}}, 403, "options.timeoutMs"},
      {{{"cpuLimit", 8}}, 403, "options.cpuLimit"},
      {{{"pidsLimit", 100000}}, 403, "options.pidsLimit"},
      {{{"security", {{"seccomp", "unconfined"}}}}, 403, "options.security.seccomp"},
      {{{"security", {{"customProfilePath", "/etc/passwd"}}}}, 403, "customProfilePath"},
      {{{"readonlyRootFs", false}}, 403, "options.readonlyRootFs"},
      {{{"debug", true}}, 403, "options.debug"},
      {{{"persist", true}}, 403, "options.persist"},
      {{{"image", "evil:latest"}}, 403, "options.image"},
      {{{"remoteCode", {{"enabled", true}}}}, 403, "options.remoteCode"},
      {{{"memoryLimit", true}}, 400, "options.memoryLimit"},
      {{{"network", "moon"}}, 400, "options.network"},
      {json::array(), 400, "options"},
  };
  for (const auto& c : cases) {
    auto r = post_json(port(), "/execute", {{"request", bash("echo ran")}, {"options", c.options}});
    EXPECT_EQ(r.status, c.status) << c.options.dump() << " -> " << r.body;
    EXPECT_TRUE(contains(r.json().value("error", ""), c.names)) << r.body;
    EXPECT_FALSE(contains(r.body, "ran"));
  }
  auto timeout =
      post_json(port(), "/execute",
                {{"request", {{"runtime", "bash"}, {"code", "true"}, {"timeoutMs", 999999}}}});
  EXPECT_EQ(timeout.status, 403);
  EXPECT_TRUE(contains(timeout.body, "request.timeoutMs"));
  // Tightening is always accepted.
  auto tighter = post_json(
      port(), "/execute",
      {{"request", bash("echo ok")},
       {"options",
        {{"memoryLimit", "128m"}, {"timeoutMs", 5000}, {"network", "none"}, {"pidsLimit", 32}}}});
  EXPECT_EQ(tighter.status, 200) << tighter.body;
  EXPECT_EQ(tighter.json()["stdout"], "ok");
}

TEST_F(ServerTest, SseEngineErrorIsOneErrorEventWithoutPhase) {
  auto sse = sse_execute(port(), {{"request", {{"runtime", "cobol"}, {"code", "x"}}}});
  ASSERT_EQ(sse.http.status, 200);
  ASSERT_EQ(sse.events.size(), 1u) << sse.http.body;
  EXPECT_EQ(sse.events[0]["type"], "error");
  EXPECT_FALSE(sse.events[0].contains("phase"));
  // Refusals before the run are JSON errors instead.
  auto refused =
      sse_execute(port(), {{"request", bash("true")}, {"options", {{"network", "host"}}}});
  EXPECT_EQ(refused.http.status, 403);
}

TEST_F(ServerTest, WebSocketInvalidJsonAndUnknownType) {
  auto ws = ws_session(port(), {json{{"type", "ping"}}.dump(), "{oops"});
  ASSERT_TRUE(ws.upgraded);
  ASSERT_EQ(ws.frames.size(), 2u);
  EXPECT_EQ(ws.frames[0], (json{{"type", "error"}, {"data", "Unknown message type: ping"}}));
  EXPECT_EQ(ws.frames[1], (json{{"type", "error"}, {"data", "Invalid JSON message"}}));
  EXPECT_EQ(ws.close_code, 1003);
  EXPECT_EQ(ws.close_reason, "Invalid JSON");
}

TEST_F(ServerTest, WebSocketAuthOnUpgrade) {
  EXPECT_FALSE(ws_session(port(), {}, "").upgraded);
  EXPECT_FALSE(ws_session(port(), {}, "wrong").upgraded);
  HttpReply none = ws_upgrade(port(), "");
  EXPECT_EQ(none.status, 401);
  EXPECT_EQ(none.json()["error"], "Missing Authorization header");
  HttpReply wrong = ws_upgrade(port(), "wrong");
  EXPECT_EQ(wrong.status, 403);
  EXPECT_EQ(wrong.json()["error"], "Invalid API key");
  // The right key upgrades.
  EXPECT_EQ(ws_upgrade(port()).status, 101);
}

TEST_F(ServerTest, BusyBeyondTheQueueIs503WithRetryAfter) {
  // 2 workers + 2 queued: the fifth and later concurrent executions are refused at once.
  std::vector<std::thread> threads;
  std::vector<int> statuses(8);
  std::vector<std::string> retry(8);
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&, i] {
      auto r = post_json(port(), "/execute", {{"request", bash("sleep 1.5")}});
      statuses[i] = r.status;
      retry[i] = r.headers["retry-after"];
    });
  }
  for (auto& t : threads) t.join();
  int ok = 0, busy = 0;
  for (int i = 0; i < 8; ++i) {
    if (statuses[i] == 200) ++ok;
    if (statuses[i] == 503) {
      ++busy;
      EXPECT_EQ(retry[i], "1");
    }
  }
  EXPECT_EQ(ok + busy, 8);
  EXPECT_GE(ok, 4);
  EXPECT_GE(busy, 1);
}

TEST_F(ServerTest, MetricsAreMasterOnlyPrometheusText) {
  post_json(port(), "/execute", {{"request", bash("true")}});
  auto r = http_request(port(), "GET", "/metrics");
  ASSERT_EQ(r.status, 200);
  EXPECT_TRUE(contains(r.body, "isol8_executions_total{runtime=\"bash\",status=\"ok\"}")) << r.body;
  EXPECT_TRUE(contains(r.body, "isol8_execution_duration_seconds_bucket{le=\"+Inf\"}"));
  EXPECT_TRUE(contains(r.body, "isol8_auth_failures_total"));
}

TEST(ServerStartup, KeyRequiredAndPortChecked) {
  IsolatedCli cli;
  auto opts = cli.options();
  opts.env["ISOL8_API_KEY"] = std::nullopt;
  auto no_key = run_cli_with({"serve"}, opts);
  EXPECT_EQ(no_key.exit_code, 1);
  EXPECT_EQ(rtrim(no_key.err), "[ERR] API key required. Use --key or ISOL8_API_KEY env var.");
  opts.env["ISOL8_API_KEY"] = "k";
  opts.env["ISOL8_PORT"] = "70000";
  auto bad_port = run_cli_with({"serve"}, opts);
  EXPECT_EQ(bad_port.exit_code, 1);
  EXPECT_EQ(rtrim(bad_port.err), "[ERR] Invalid port from ISOL8_PORT: 70000. Expected 1-65535.");
  auto flag_port = run_cli_with({"serve", "--port", "abc"}, opts);
  EXPECT_EQ(rtrim(flag_port.err), "[ERR] Invalid port from --port: abc. Expected 1-65535.");
  auto help = run_cli_with({"serve", "--help"}, opts);
  for (const char* flag : {"--port", "--key", "--auth-db", "--bind", "--debug"}) {
    EXPECT_TRUE(contains(help.out, flag)) << flag;
  }
}

}  // namespace
}  // namespace isol8::test
