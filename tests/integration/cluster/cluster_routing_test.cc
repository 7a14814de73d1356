// Routing through HAProxy and deploy/haproxy.cfg on a three-node local cluster: ephemeral
// executions spread over every node; a session and its files stay on one node through every
// endpoint that names it (the JSON body, the query, the path, the WebSocket's message); a key
// made on one node works on every node at once, and so does its revocation (one PostgreSQL).

#include <unistd.h>

#include <map>
#include <set>

#include "integration/cluster/cluster_test.h"
#include "support/host_state.h"

namespace isol8::test {
namespace {

using nlohmann::json;

class ClusterRoutingTest : public ClusterTest {};

TEST_F(ClusterRoutingTest, EphemeralExecutionsSpreadOverEveryNode) {
  constexpr int kRequests = 60;
  std::map<std::string, int> served;
  for (int i = 0; i < kRequests; ++i) {
    const HttpReply reply = post_json(proxy_port(), "/execute", execute_body("echo $((6 * 7))"));
    ASSERT_EQ(reply.status, 200) << reply.body;
    EXPECT_EQ(field_of(reply, "stdout"), "42");
    served[node_of(reply)]++;
  }
  std::string tally;
  for (const auto& [node, n] : served)
    tally += " " + (node.empty() ? "(no header)" : node) + "=" + std::to_string(n);
  for (const auto& node : LocalCluster::node_ids()) {
    EXPECT_GT(served[node], 0) << node << " served none of " << kRequests << ":" << tally;
  }
  EXPECT_EQ(served.count(""), 0u) << "replies without X-Isol8-Node:" << tally;
}

TEST_F(ClusterRoutingTest, SessionStaysOnItsNodeThroughEveryEndpoint) {
  const std::string id = "cluster-files-" + std::to_string(::getpid());
  const int proxy = proxy_port();

  // POST /execute (sessionId in the JSON body): the session is made on the node it hashes to.
  const HttpReply made =
      post_json(proxy, "/execute", execute_body("echo -n made > /sandbox/a; echo ok", id));
  ASSERT_EQ(made.status, 200) << made.body;
  const std::string owner = node_of(made);
  ASSERT_FALSE(owner.empty()) << "no X-Isol8-Node header";

  // POST /file (sessionId in the body).
  const HttpReply put = post_json(
      proxy, "/file", {{"sessionId", id}, {"path", "/sandbox/b"}, {"content", base64("put")}});
  EXPECT_EQ(put.status, 200) << put.body;
  EXPECT_EQ(node_of(put), owner);

  // GET /file (sessionId in the query).
  const HttpReply got =
      http_request(proxy, "GET", "/file?sessionId=" + id + "&path=%2Fsandbox%2Fa");
  ASSERT_EQ(got.status, 200) << got.body;
  EXPECT_EQ(field_of(got, "content"), base64("made"));
  EXPECT_EQ(node_of(got), owner);

  // POST /execute/stream: both files are there.
  const SseReply streamed = sse_execute(proxy, execute_body("cat /sandbox/a /sandbox/b", id));
  ASSERT_EQ(streamed.http.status, 200) << streamed.http.body;
  EXPECT_EQ(node_of(streamed.http), owner);
  std::string sse_out;
  for (const auto& e : streamed.events) {
    if (e.value("type", "") == "stdout") sse_out += e.value("data", "");
  }
  EXPECT_EQ(sse_out, "madeput");

  // The WebSocket with the ?sessionId= hint our client adds: HAProxy hashes it like the others.
  json message = {{"type", "execute"},
                  {"request", bash("echo -n ws >> /sandbox/b; cat /sandbox/b")},
                  {"sessionId", id}};
  const WsExecution hinted = ws_execute(proxy, "/execute/ws?sessionId=" + id, message);
  ASSERT_TRUE(hinted.upgraded) << hinted.refused;
  EXPECT_EQ(hinted.node, owner);
  EXPECT_EQ(hinted.stdout_text(), "putws");
  EXPECT_EQ(hinted.close_code, 1000);

  // The WebSocket naming the session only in its first message (upstream's client): HAProxy
  // cannot see it; whichever node takes the connection relays the execution to the owner.
  message["request"] = bash("cat /sandbox/a /sandbox/b");
  const WsExecution unhinted = ws_execute(proxy, "/execute/ws", message);
  ASSERT_TRUE(unhinted.upgraded) << unhinted.refused;
  EXPECT_EQ(unhinted.stdout_text(), "madeputws") << "node " << unhinted.node;

  // Straight to each other node's own port: relayed to the owner, same session.
  for (const auto& node : LocalCluster::node_ids()) {
    if (node == owner) continue;
    const HttpReply relayed =
        post_json(node_port(node), "/execute", execute_body("cat /sandbox/a", id));
    EXPECT_EQ(relayed.status, 200) << node << ": " << relayed.body;
    EXPECT_EQ(field_of(relayed, "stdout"), "made") << "through " << node;
    const HttpReply file =
        http_request(node_port(node), "GET", "/file?sessionId=" + id + "&path=/sandbox/b");
    EXPECT_EQ(file.status, 200) << node << ": " << file.body;
    EXPECT_EQ(field_of(file, "content"), base64("putws")) << "through " << node;
    // A WebSocket naming the session in its message only, straight to this node.
    const WsExecution ws = ws_execute(node_port(node), "/execute/ws", message);
    ASSERT_TRUE(ws.upgraded) << node << ": " << ws.refused;
    EXPECT_EQ(ws.stdout_text(), "madeputws") << "WebSocket through " << node;
    EXPECT_EQ(ws.close_code, 1000) << "WebSocket through " << node;
  }

  // GET /sessions through HAProxy (any node): the session is listed, once.
  const HttpReply listed = http_request(proxy, "GET", "/sessions");
  ASSERT_EQ(listed.status, 200) << listed.body;
  int seen = 0;
  const json listing = listed.json();  // kept: the loop below iterates into it
  for (const auto& s : listing["sessions"]) seen += s.value("id", "") == id ? 1 : 0;
  EXPECT_EQ(seen, 1) << listed.body << " (served by " << node_of(listed) << ")";

  // Only the owner holds a sandbox for it.
  for (const auto& node : LocalCluster::node_ids()) {
    const bool holds = !pids_with_host_uid(cluster().node_sandbox_uid(node)).empty();
    EXPECT_EQ(holds, node == owner) << node;
  }

  // DELETE /session/<id> (the id in the path): the owner stops it; it is gone everywhere.
  const HttpReply deleted = http_request(proxy, "DELETE", "/session/" + id);
  EXPECT_EQ(deleted.status, 200) << deleted.body;
  EXPECT_EQ(node_of(deleted), owner);
  EXPECT_TRUE(wait_until([&] {
    return pids_with_host_uid(cluster().node_sandbox_uid(owner)).empty();
  })) << "the deleted session's sandbox still runs on "
      << owner;
  for (const auto& node : LocalCluster::node_ids()) {
    const HttpReply gone =
        http_request(node_port(node), "GET", "/file?sessionId=" + id + "&path=/sandbox/a");
    EXPECT_EQ(gone.status, 404) << node << ": " << gone.body;
  }
}

// Where HAProxy cannot route by the id, the node that gets the request relays it to the owner:
// a sessionId past HAProxy's buffer (tune.bufsize, 16 KiB), and a session made on a stand-in
// node while the node its id hashes to was out of HAProxy.
TEST_F(ClusterRoutingTest, SessionIdsHaproxyCannotSeeAreRelayedToTheOwner) {
  const int proxy = proxy_port();

  // An id whose hash node is n2: GET /file creates nothing, and says who answered.
  std::string id;
  for (int i = 0; i < 200 && id.empty(); ++i) {
    const std::string probe = "away-" + std::to_string(::getpid()) + "-" + std::to_string(i);
    if (node_of(http_request(proxy, "GET", "/file?sessionId=" + probe + "&path=/x")) == "n2") {
      id = probe;
    }
  }
  ASSERT_FALSE(id.empty()) << "no id hashed to n2";

  // n2 out of HAProxy (maintenance; the sessions backend tracks it): the session is made on
  // the node that stands in.
  cluster().haproxy_command("disable server ephemeral/n2");
  ASSERT_TRUE(cluster().wait_haproxy_status("n2", "MAINT", std::chrono::seconds(5)));
  EXPECT_EQ(cluster().haproxy_status("n2", "sessions").rfind("MAINT", 0), 0u)
      << cluster().haproxy_status("n2", "sessions");
  const HttpReply made =
      post_json(proxy, "/execute", execute_body("echo -n kept > /sandbox/f; echo ok", id));
  ASSERT_EQ(made.status, 200) << made.body;
  const std::string owner = node_of(made);
  ASSERT_NE(owner, "n2");

  // n2 back: HAProxy sends the id to n2, which relays to the owner.
  cluster().haproxy_command("enable server ephemeral/n2");
  ASSERT_TRUE(cluster().wait_haproxy_status("n2", "UP", std::chrono::seconds(10)));
  const HttpReply back = post_json(proxy, "/execute", execute_body("cat /sandbox/f", id));
  EXPECT_EQ(back.status, 200) << back.body;
  EXPECT_EQ(field_of(back, "stdout"), "kept");
  const HttpReply file = http_request(proxy, "GET", "/file?sessionId=" + id + "&path=/sandbox/f");
  EXPECT_EQ(file.status, 200) << file.body;
  EXPECT_EQ(field_of(file, "content"), base64("kept"));

  // The id after 20 KiB of code (nlohmann::json writes "request" before "sessionId"): HAProxy
  // reads a truncated body, finds no id, and any node takes it; every try reaches the session.
  const std::string padding = "# " + std::string(20 * 1024, 'x') + "\n";
  for (int i = 0; i < 6; ++i) {
    const HttpReply big =
        post_json(proxy, "/execute", execute_body(padding + "cat /sandbox/f", id));
    EXPECT_EQ(big.status, 200) << "try " << i << " (" << node_of(big) << "): " << big.body;
    EXPECT_EQ(field_of(big, "stdout"), "kept") << "try " << i << " (" << node_of(big) << ")";
  }

  // DELETE through HAProxy (to n2, relayed): the owner's sandbox goes.
  const HttpReply deleted = http_request(proxy, "DELETE", "/session/" + id);
  EXPECT_EQ(deleted.status, 200) << deleted.body;
  EXPECT_TRUE(wait_until([&] {
    return pids_with_host_uid(cluster().node_sandbox_uid(owner)).empty();
  })) << "the deleted session's sandbox still runs on "
      << owner;
}

TEST_F(ClusterRoutingTest, KeyMadeOnOneNodeWorksOnEveryNodeUntilRevoked) {
  const HttpReply made = post_json(node_port("n1"), "/auth/keys", {{"name", "cluster-key"}});
  ASSERT_EQ(made.status, 201) << made.body;
  EXPECT_EQ(node_of(made), "n1");
  const std::string key = made.json()["key"];
  const std::string key_id = made.json()["id"];

  const std::vector<int> ports = {node_port("n2"), node_port("n3"), proxy_port()};
  for (int port : ports) {
    const HttpReply run = post_json(port, "/execute", execute_body("echo -n keyed"), key);
    EXPECT_EQ(run.status, 200) << "port " << port << ": " << run.body;
    EXPECT_EQ(field_of(run, "stdout"), "keyed");
  }
  // Every node lists it (the master key).
  for (const auto& node : LocalCluster::node_ids()) {
    const HttpReply keys = http_request(node_port(node), "GET", "/auth/keys");
    ASSERT_EQ(keys.status, 200) << keys.body;
    int found = 0;
    const json listing = keys.json();  // kept: the loop below iterates into it
    for (const auto& k : listing["keys"]) found += k.value("id", "") == key_id ? 1 : 0;
    EXPECT_EQ(found, 1) << node << ": " << keys.body;
  }

  // Revoked through another node: refused everywhere at once.
  const HttpReply revoked = http_request(node_port("n3"), "DELETE", "/auth/keys/" + key_id);
  ASSERT_EQ(revoked.status, 200) << revoked.body;
  for (int port : {node_port("n1"), node_port("n2"), node_port("n3"), proxy_port()}) {
    const HttpReply refused = post_json(port, "/execute", execute_body("true"), key);
    EXPECT_EQ(refused.status, 403) << "port " << port << ": " << refused.body;
    EXPECT_EQ(refused.body, R"({"error":"Invalid API key"})");
  }
}

}  // namespace
}  // namespace isol8::test
