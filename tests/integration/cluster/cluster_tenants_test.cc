// Tenants across nodes: a DB key sees only its tenant's sessions on a single server, and the
// cluster keeps it so. Another tenant's session, on whichever node the request lands (HAProxy,
// each node's own port, so also through the relay), is "not found" for files and executions
// (the id is not taken over or shadowed by a new session), is left alone by DELETE, and is not
// listed; the master key lists every tenant's.

#include <unistd.h>

#include "integration/cluster/cluster_test.h"

namespace isol8::test {
namespace {

using nlohmann::json;

class ClusterTenantsTest : public ClusterTest {
 protected:
  // A DB key of `tenant`, made on n1.
  std::string key_of(const std::string& tenant) {
    const HttpReply made =
        post_json(node_port("n1"), "/auth/keys", {{"name", tenant}, {"tenantId", tenant}});
    EXPECT_EQ(made.status, 201) << made.body;
    return made.status == 201 ? made.json()["key"].get<std::string>() : std::string();
  }

  static int listed(const HttpReply& reply, const std::string& id) {
    int n = 0;
    const json listing = reply.json();  // kept: the loop iterates into it
    for (const auto& s : listing["sessions"]) n += s.value("id", "") == id ? 1 : 0;
    return n;
  }
};

TEST_F(ClusterTenantsTest, AnotherTenantsSessionIsNotFoundOnEveryNode) {
  const std::string alice = key_of("alice");
  const std::string bob = key_of("bob");
  ASSERT_FALSE(alice.empty());
  ASSERT_FALSE(bob.empty());
  const std::string id = "tenant-" + std::to_string(::getpid());

  const HttpReply made = post_json(proxy_port(), "/execute",
                                   execute_body("echo -n secret > /sandbox/s; echo ok", id), alice);
  ASSERT_EQ(made.status, 200) << made.body;
  const std::string owner = node_of(made);

  std::vector<int> ports = {proxy_port()};
  for (const auto& node : LocalCluster::node_ids()) ports.push_back(node_port(node));
  for (int port : ports) {
    const HttpReply file =
        http_request(port, "GET", "/file?sessionId=" + id + "&path=/sandbox/s", "", bob);
    EXPECT_EQ(file.status, 404) << "port " << port << ": " << file.body;
    EXPECT_EQ(file.body, R"({"error":"Session not found"})") << "port " << port;

    const HttpReply run =
        post_json(port, "/execute", execute_body("cat /sandbox/s 2>&1; echo -n bob", id), bob);
    EXPECT_EQ(run.status, 404) << "port " << port << ": " << run.body;
    EXPECT_EQ(field_of(run, "stdout"), nullptr) << "port " << port << ": " << run.body;

    const HttpReply put = post_json(
        port, "/file", {{"sessionId", id}, {"path", "/sandbox/s"}, {"content", "Ym9i"}}, bob);
    EXPECT_EQ(put.status, 404) << "port " << port << ": " << put.body;

    // Idempotent as upstream ({"ok": true}), but the session stays.
    const HttpReply deleted = http_request(port, "DELETE", "/session/" + id, "", bob);
    EXPECT_EQ(deleted.status, 200) << "port " << port << ": " << deleted.body;

    const HttpReply bobs = http_request(port, "GET", "/sessions", "", bob);
    ASSERT_EQ(bobs.status, 200) << bobs.body;
    EXPECT_EQ(listed(bobs, id), 0) << "port " << port << ": " << bobs.body;
  }

  // Alice's session is whole, on its node, and listed for her and for the master key.
  const HttpReply mine =
      http_request(proxy_port(), "GET", "/file?sessionId=" + id + "&path=/sandbox/s", "", alice);
  ASSERT_EQ(mine.status, 200) << mine.body;
  EXPECT_EQ(field_of(mine, "content"), "c2VjcmV0");  // "secret"
  EXPECT_EQ(node_of(mine), owner);
  EXPECT_EQ(listed(http_request(proxy_port(), "GET", "/sessions", "", alice), id), 1);
  EXPECT_EQ(listed(http_request(proxy_port(), "GET", "/sessions"), id), 1);

  const HttpReply gone = http_request(proxy_port(), "DELETE", "/session/" + id, "", alice);
  EXPECT_EQ(gone.status, 200) << gone.body;
  EXPECT_EQ(listed(http_request(proxy_port(), "GET", "/sessions"), id), 0);
}

}  // namespace
}  // namespace isol8::test
