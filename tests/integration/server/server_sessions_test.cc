// Sessions (persistent engines keyed by sessionId), file transfer, pruning, DB keys and tenant
// isolation, through the real server.

#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdio>

#include <algorithm>
#include <thread>

#include "server_client.h"
#include "support/host_state.h"

namespace isol8::test {
namespace {

using nlohmann::json;

json bash(const std::string& cmd) { return {{"runtime", "bash"}, {"code", cmd}}; }

class SessionServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "the server tier runs the native backend as root";
  }
};

TEST_F(SessionServerTest, SessionKeepsStateAndFilesRoundTrip) {
  TestServer server;
  ASSERT_TRUE(server.ready());
  const int port = server.port();
  auto first = post_json(port, "/execute",
                         {{"request", bash("echo -n 41 > /sandbox/n")}, {"sessionId", "s1"}});
  ASSERT_EQ(first.status, 200) << first.body;
  auto second =
      post_json(port, "/execute",
                {{"request", bash("echo $(( $(cat /sandbox/n) + 1 ))")}, {"sessionId", "s1"}});
  ASSERT_EQ(second.status, 200) << second.body;
  EXPECT_EQ(second.json()["stdout"], "42");

  const std::string bytes("\x00\x01\xfe\xff binary\n", 12);
  auto put =
      post_json(port, "/file",
                {{"sessionId", "s1"}, {"path", "/sandbox/in.bin"}, {"content", base64(bytes)}});
  EXPECT_EQ(put.status, 200) << put.body;
  EXPECT_EQ(put.body, R"({"ok":true})");
  auto get = http_request(port, "GET", "/file?sessionId=s1&path=%2Fsandbox%2Fin.bin");
  ASSERT_EQ(get.status, 200) << get.body;
  EXPECT_EQ(get.json()["content"], base64(bytes));
  auto seen = post_json(port, "/execute",
                        {{"request", bash("wc -c < /sandbox/in.bin")}, {"sessionId", "s1"}});
  EXPECT_EQ(seen.json()["stdout"], "12");

  auto missing = http_request(port, "GET", "/file?sessionId=nope&path=/sandbox/x");
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(missing.body, R"({"error":"Session not found"})");
  EXPECT_EQ(http_request(port, "GET", "/file?sessionId=s1").status, 400);

  auto list = http_request(port, "GET", "/sessions");
  ASSERT_EQ(list.status, 200);
  ASSERT_EQ(list.json()["sessions"].size(), 1u);
  EXPECT_EQ(list.json()["sessions"][0]["id"], "s1");
  EXPECT_EQ(list.json()["sessions"][0]["isActive"], false);
  EXPECT_TRUE(list.json()["sessions"][0]["lastAccessedAt"].is_string());

  EXPECT_EQ(http_request(port, "DELETE", "/session/s1").body, R"({"ok":true})");
  EXPECT_EQ(http_request(port, "DELETE", "/session/s1").body, R"({"ok":true})");  // idempotent
  EXPECT_TRUE(http_request(port, "GET", "/sessions").json()["sessions"].empty());
}

TEST_F(SessionServerTest, RuntimeSwitchIsRefusedAndSessionSurvives) {
  TestServer server;
  ASSERT_TRUE(server.ready());
  ASSERT_EQ(
      post_json(server.port(), "/execute", {{"request", bash("true")}, {"sessionId", "rt"}}).status,
      200);
  auto sw =
      post_json(server.port(), "/execute",
                {{"request", {{"runtime", "python"}, {"code", "print(1)"}}}, {"sessionId", "rt"}});
  EXPECT_EQ(sw.status, 500);
  EXPECT_TRUE(contains(sw.json().value("error", ""), "Cannot switch runtime")) << sw.body;
  EXPECT_EQ(
      post_json(server.port(), "/execute", {{"request", bash("echo still")}, {"sessionId", "rt"}})
          .json()["stdout"],
      "still");
}

TEST_F(SessionServerTest, IdleSessionsArePruned) {
  TestServer server(json{{"cleanup", {{"autoPrune", true}, {"maxContainerAgeMs", 300}}},
                         {"server", {{"pruneIntervalMs", 200}}}});
  ASSERT_TRUE(server.ready());
  ASSERT_EQ(post_json(server.port(), "/execute", {{"request", bash("true")}, {"sessionId", "idle"}})
                .status,
            200);
  EXPECT_EQ(http_request(server.port(), "GET", "/sessions").json()["sessions"].size(), 1u);
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  EXPECT_TRUE(http_request(server.port(), "GET", "/sessions").json()["sessions"].empty());
}

TEST_F(SessionServerTest, DbKeysTenantsExpiryAndRevocation) {
  TestServer server(json::object(), {"--auth-db", "auth.db"});
  ASSERT_TRUE(server.ready());
  const int port = server.port();
  auto created = post_json(port, "/auth/keys", {{"name", "a"}, {"tenantId", "alpha"}});
  ASSERT_EQ(created.status, 201) << created.body;
  const std::string key_a = created.json()["key"];
  EXPECT_EQ(key_a.size(), 6u + 64u);
  EXPECT_EQ(key_a.rfind("isol8_", 0), 0u);
  EXPECT_EQ(created.json()["keyPrefix"], key_a.substr(0, 10) + "...");
  const std::string key_b =
      post_json(port, "/auth/keys", {{"name", "b"}, {"tenantId", "beta"}}).json()["key"];
  EXPECT_EQ(post_json(port, "/auth/keys", json::object()).json()["error"], "name is required");

  // DB keys run code but cannot manage keys or clean up.
  EXPECT_EQ(post_json(port, "/execute", {{"request", bash("echo a")}}, key_a).json()["stdout"],
            "a");
  auto not_master = http_request(port, "GET", "/auth/keys", "", key_a);
  EXPECT_EQ(not_master.status, 403);
  EXPECT_EQ(not_master.body, R"({"error":"Master key required for this operation"})");
  EXPECT_EQ(post_json(port, "/cleanup", json::object(), key_a).status, 403);

  // Tenant isolation: beta neither sees nor uses nor deletes alpha's session.
  ASSERT_EQ(
      post_json(port, "/execute",
                {{"request", bash("echo -n secret > /sandbox/s")}, {"sessionId", "shared-name"}},
                key_a)
          .status,
      200);
  EXPECT_TRUE(http_request(port, "GET", "/sessions", "", key_b).json()["sessions"].empty());
  EXPECT_EQ(http_request(port, "GET", "/sessions", "", key_a).json()["sessions"].size(), 1u);
  EXPECT_EQ(post_json(port, "/execute",
                      {{"request", bash("cat /sandbox/s")}, {"sessionId", "shared-name"}}, key_b)
                .status,
            404);
  EXPECT_EQ(
      http_request(port, "GET", "/file?sessionId=shared-name&path=/sandbox/s", "", key_b).status,
      404);
  http_request(port, "DELETE", "/session/shared-name", "", key_b);
  EXPECT_EQ(http_request(port, "GET", "/sessions", "", key_a).json()["sessions"].size(), 1u);
  // The master key sees all.
  EXPECT_EQ(http_request(port, "GET", "/sessions").json()["sessions"].size(), 1u);

  // Listing: no hashes, lastUsedAt set once used.
  auto keys = http_request(port, "GET", "/auth/keys?tenantId=alpha");
  ASSERT_EQ(keys.status, 200);
  ASSERT_EQ(keys.json()["keys"].size(), 1u);
  EXPECT_TRUE(keys.json()["keys"][0]["lastUsedAt"].is_string());
  EXPECT_FALSE(contains(keys.body, key_a.substr(10)));

  // Revocation.
  const std::string id_a = keys.json()["keys"][0]["id"];
  auto revoked = http_request(port, "DELETE", "/auth/keys/" + id_a);
  EXPECT_EQ(revoked.body, json({{"ok", true}, {"id", id_a}}).dump());
  EXPECT_EQ(post_json(port, "/execute", {{"request", bash("true")}}, key_a).status, 403);
  EXPECT_EQ(http_request(port, "DELETE", "/auth/keys/no-such-id").status, 404);

  // Expiry.
  auto login = post_json(port, "/auth/login", {{"ttlMs", 300}});
  ASSERT_EQ(login.status, 200) << login.body;
  const std::string token = login.json()["token"];
  EXPECT_EQ(post_json(port, "/execute", {{"request", bash("true")}}, token).status, 200);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  EXPECT_EQ(post_json(port, "/execute", {{"request", bash("true")}}, token).status, 403);
}

TEST_F(SessionServerTest, AuthEndpointsWithoutDbSay400) {
  TestServer server;
  ASSERT_TRUE(server.ready());
  auto r = post_json(server.port(), "/auth/keys", {{"name", "x"}});
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.body, R"({"error":"DB-backed auth is not enabled"})");
}

TEST_F(SessionServerTest, ShutdownStopsSessions) {
  TestServer server;
  ASSERT_TRUE(server.ready());
  // A background process with a marker no other test uses.
  auto r = post_json(
      server.port(), "/execute",
      {{"request", bash("sleep 297.25 >/dev/null 2>&1 & echo started")}, {"sessionId", "bg"}});
  ASSERT_EQ(r.status, 200) << r.body;
  // Counted from /proc by exact argv: a `pgrep -f` through a shell counts that shell as well.
  auto count = [] {
    const std::vector<std::string> wanted = {"sleep", "297.25"};
    const std::vector<pid_t> pids = all_pids();
    return std::count_if(pids.begin(), pids.end(),
                         [&](pid_t pid) { return cmdline_of(pid) == wanted; });
  };
  EXPECT_EQ(count(), 1);
  auto run = server.stop();
  EXPECT_EQ(run.exit_code, 0) << describe(run);
  EXPECT_EQ(count(), 0);
}

}  // namespace
}  // namespace isol8::test
