// DB-backed API keys through the real server: creation, tenants and their isolated sessions,
// expiry, revocation; the auth endpoints without a key DB.
//
// Native backend only: who may do what is the server's decision, whatever the backend runs (the
// sessions used here are covered on both backends by server_sessions_test.cc).

#include <gtest/gtest.h>

#include <unistd.h>

#include <thread>

#include "server_client.h"

namespace isol8::test {
namespace {

using nlohmann::json;

json bash(const std::string& cmd) { return {{"runtime", "bash"}, {"code", cmd}}; }

class AuthServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "the server tier runs the native backend as root";
  }
};

TEST_F(AuthServerTest, DbKeysTenantsExpiryAndRevocation) {
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

TEST_F(AuthServerTest, AuthEndpointsWithoutDbSay400) {
  TestServer server;
  ASSERT_TRUE(server.ready());
  auto r = post_json(server.port(), "/auth/keys", {{"name", "x"}});
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.body, R"({"error":"DB-backed auth is not enabled"})");
}

}  // namespace
}  // namespace isol8::test
