// Clients other than our own: a Node.js script that behaves like upstream's RemoteIsol8 (fetch,
// SSE fallback without a WebSocket, the WebSocket path with --experimental-websocket), and curl.
//
// curl runs on both backends (server_backends.h). The Node.js client stays on native: what it
// checks is the wire as upstream's client sees it, and its sessions and files are the ones
// server_sessions_test.cc runs on both backends.

#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdlib>

#include "server_backends.h"

namespace isol8::test {
namespace {

using nlohmann::json;

bool have(const char* tool) {
  return std::system((std::string("command -v ") + tool + " >/dev/null 2>&1").c_str()) == 0;
}

CliRun run_tool(const std::vector<std::string>& argv) {
  // CliProcess runs a launcher with the CLI's path appended: bash execs the tool without it.
  CliOptions opts;
  opts.launcher = {"/bin/bash", "-c", "exec \"${@:1:$#-1}\"", "run-tool"};
  opts.launcher.insert(opts.launcher.end(), argv.begin(), argv.end());
  opts.hang_limit = std::chrono::minutes(2);
  CliProcess p({}, opts);
  return p.wait();
}

class ClientsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "the server tier runs the native backend as root";
  }
};

void check_remote_client(const json& out, const std::string& transport) {
  EXPECT_EQ(out["execute"]["stdout"], "hello");
  EXPECT_EQ(out["stream"]["transport"], transport);
  const auto& events = out["stream"]["events"];
  ASSERT_FALSE(events.empty());
  EXPECT_EQ(events.back(), (json{{"type", "exit"}, {"data", "0"}, {"phase", "code"}}));
  EXPECT_EQ(
      out["executeError"],
      "Execution failed: ExecutionRequest must include exactly one of: code, codeUrl, or cmd.");
  EXPECT_EQ(out["badKey"], "Execution failed: Invalid API key");
  EXPECT_EQ(out["session"]["stdout"], "kept   0   1   2 255  10");
  EXPECT_EQ(out["download"], (json{0, 1, 2, 255, 10}));
  EXPECT_EQ(out["sessions"], (json{"remote-s"}));
  EXPECT_TRUE(out["afterStop"].empty());
  EXPECT_TRUE(contains(out.value("missingFile", ""), "File download failed: ")) << out.dump();
}

TEST_F(ClientsTest, RemoteIsol8LikeClientOverSse) {
  if (!have("node")) GTEST_SKIP() << "node is not installed";
  TestServer server;
  ASSERT_TRUE(server.ready());
  const std::string script =
      std::string(kSourceDir) + "/tests/integration/server/remote_client.mjs";
  auto run = run_tool({"node", script, "http://127.0.0.1:" + std::to_string(server.port()),
                       kMasterKey, "remote-s"});
  ASSERT_EQ(run.exit_code, 0) << describe(run);
  check_remote_client(json::parse(run.out), "sse");
}

TEST_F(ClientsTest, RemoteIsol8LikeClientOverWebSocket) {
  if (!have("node")) GTEST_SKIP() << "node is not installed";
  TestServer server;
  ASSERT_TRUE(server.ready());
  const std::string script =
      std::string(kSourceDir) + "/tests/integration/server/remote_client.mjs";
  auto run =
      run_tool({"node", "--experimental-websocket", "--no-warnings", script,
                "http://127.0.0.1:" + std::to_string(server.port()), kMasterKey, "remote-s"});
  ASSERT_EQ(run.exit_code, 0) << describe(run);
  const json out = json::parse(run.out);
  check_remote_client(out, "ws");
  EXPECT_EQ(out["stream"]["close"], (json{{"code", 1000}, {"reason", "Execution complete"}}));
}

class CurlTest : public ServerBackendTest {};

TEST_P(CurlTest, ExecuteStreamAndAuth) {
  if (!have("curl")) GTEST_SKIP() << "curl is not installed";
  TestServer& server = start();
  ASSERT_TRUE(server.ready());
  const std::string base = "http://127.0.0.1:" + std::to_string(server.port());
  const std::string auth = std::string("Authorization: Bearer ") + kMasterKey;
  auto health = run_tool({"curl", "-sS", base + "/health"});
  EXPECT_TRUE(contains(health.out, "\"status\":\"ok\"")) << describe(health);
  auto exec =
      run_tool({"curl", "-sS", "-H", auth, "-H", "Content-Type: application/json", "-d",
                R"({"request":{"runtime":"bash","code":"echo via-curl"}})", base + "/execute"});
  EXPECT_EQ(json::parse(exec.out, nullptr, false)["stdout"], "via-curl") << describe(exec);
  // A body over 1 KiB makes curl send Expect: 100-continue; the server answers it at once.
  const std::string code = "echo " + std::string(3000, 'y') + " | wc -c";
  auto big = run_tool({"curl", "-sS", "-H", auth, "-H", "Content-Type: application/json", "-d",
                       json{{"request", {{"runtime", "bash"}, {"code", code}}}}.dump(), "-w",
                       "\n%{time_total}", base + "/execute"});
  EXPECT_TRUE(contains(big.out, "\"stdout\":\"3001\"")) << describe(big);
  auto sse =
      run_tool({"curl", "-sSN", "-H", auth, "-d",
                R"({"request":{"runtime":"bash","code":"echo a"}})", base + "/execute/stream"});
  EXPECT_EQ(sse.out,
            "data: {\"type\":\"stdout\",\"data\":\"a\\n\",\"phase\":\"code\"}\n\n"
            "data: {\"type\":\"exit\",\"data\":\"0\",\"phase\":\"code\"}\n\n")
      << describe(sse);
  auto unauthorized =
      run_tool({"curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", base + "/sessions"});
  EXPECT_EQ(unauthorized.out, "401");
}

ISOL8_BACKEND_SUITE(CurlTest);

}  // namespace
}  // namespace isol8::test
