// Nodes leaving and coming back on a three-node local cluster: a node SIGKILLed under ephemeral
// load (HAProxy's health checks take it out; requests keep succeeding; its sessions answer 503
// with a JSON error instead of hanging; the other nodes' sessions work and leave nothing behind),
// then restarted (it serves again; its old sessions answer 410, lost); and a node draining after
// SIGTERM (/health 503, HAProxy stops sending before it exits, no request fails).

#include <signal.h>
#include <unistd.h>

#include <map>
#include <set>
#include <sstream>

#include "integration/cluster/cluster_test.h"
#include "support/host_state.h"

namespace isol8::test {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

// Sessions made through HAProxy until one lives on `wanted` and one elsewhere; returns
// {id on wanted, id elsewhere} and the node of the second. Each holds /sandbox/f = its id.
struct PlacedSessions {
  std::string on_victim;
  std::string elsewhere;
  std::string elsewhere_node;
};

PlacedSessions place_sessions(int proxy, const std::string& victim) {
  PlacedSessions placed;
  for (int i = 0; i < 64 && (placed.on_victim.empty() || placed.elsewhere.empty()); ++i) {
    const std::string id = "fo-" + std::to_string(::getpid()) + "-" + std::to_string(i);
    const HttpReply made =
        post_json(proxy, "/execute", execute_body("echo -n " + id + " > /sandbox/f", id));
    if (made.status != 200) continue;
    const std::string node = node_of(made);
    if (node == victim && placed.on_victim.empty()) {
      placed.on_victim = id;
    } else if (node != victim && !node.empty() && placed.elsewhere.empty()) {
      placed.elsewhere = id;
      placed.elsewhere_node = node;
    } else {
      (void)http_request(proxy, "DELETE", "/session/" + id);
    }
  }
  return placed;
}

std::string describe(const std::vector<EphemeralLoad::Reply>& replies) {
  std::map<std::string, int> by;
  for (const auto& r : replies) by[std::to_string(r.status) + "@" + r.node]++;
  std::ostringstream out;
  for (const auto& [k, n] : by) out << " " << k << "=" << n;
  return out.str();
}

// The reply of a session whose node is gone: an error status with a JSON error naming the
// session and the node.
void expect_clear_error(const HttpReply& reply, int status, const std::string& session,
                        const std::string& node, const std::string& how) {
  EXPECT_EQ(reply.status, status) << how << ": " << reply.body;
  const json body = reply.json();
  ASSERT_TRUE(body.is_object() && body.contains("error")) << how << ": " << reply.body;
  const std::string error = body["error"].is_string() ? body["error"].get<std::string>() : "";
  EXPECT_NE(error.find(session), std::string::npos) << how << ": " << error;
  EXPECT_NE(error.find(node), std::string::npos) << how << ": " << error;
}

class ClusterFailoverTest : public ClusterTest {};

TEST_F(ClusterFailoverTest, KilledNodeUnderLoadThenRestartedRejoins) {
  const std::string victim = "n2";
  const int proxy = proxy_port();
  const PlacedSessions sessions = place_sessions(proxy, victim);
  ASSERT_FALSE(sessions.on_victim.empty()) << "no session hashed to " << victim;
  ASSERT_FALSE(sessions.elsewhere.empty()) << "no session hashed to another node";

  EphemeralLoad load(proxy, 4);
  ASSERT_TRUE(wait_until([&] { return load.count() >= 40; }, std::chrono::seconds(60)))
      << "the load never got going";
  const pid_t dead = cluster().node_pid(victim);
  const auto killed_at = Clock::now();
  cluster().signal_node(victim, SIGKILL);
  ASSERT_TRUE(cluster().wait_haproxy_status(victim, "DOWN"))
      << "HAProxy still says " << cluster().haproxy_status(victim);
  const auto noticed_at = Clock::now();
  const size_t at_notice = load.count();
  ASSERT_TRUE(wait_until([&] { return load.count() >= at_notice + 60; }, std::chrono::seconds(60)))
      << "the load stalled after the kill";
  load.stop();

  // Every request sent once HAProxy had noticed succeeded, on the other nodes; those in between
  // are only reported (retries and redispatch should carry most of them too).
  const auto replies = load.replies();
  std::vector<EphemeralLoad::Reply> before, between, after;
  for (const auto& r : replies) {
    (r.sent < killed_at ? before : r.sent < noticed_at ? between : after).push_back(r);
  }
  std::cout << "[cluster] ephemeral replies: before the kill" << describe(before)
            << "; until HAProxy noticed" << describe(between) << "; after" << describe(after)
            << "\n"
            << std::flush;
  for (const auto& r : before) EXPECT_EQ(r.status, 200) << r.body;
  for (const auto& r : after) {
    EXPECT_EQ(r.status, 200) << r.body;
    EXPECT_NE(r.node, victim);
  }

  // The killed node's session: 503 with a JSON error naming it and its node, through HAProxy
  // (hashed to another node now) and through each survivor's own port; never a hang.
  const std::string lost = sessions.on_victim;
  expect_clear_error(post_json(proxy, "/execute", execute_body("cat /sandbox/f", lost)), 503, lost,
                     victim, "POST /execute through HAProxy");
  expect_clear_error(http_request(proxy, "GET", "/file?sessionId=" + lost + "&path=/sandbox/f"),
                     503, lost, victim, "GET /file through HAProxy");
  for (const std::string node : {"n1", "n3"}) {
    expect_clear_error(post_json(node_port(node), "/execute", execute_body("true", lost)), 503,
                       lost, victim, "POST /execute on " + node);
  }

  // Another node's session works as before, through HAProxy.
  const std::string kept = sessions.elsewhere;
  const HttpReply still = post_json(proxy, "/execute", execute_body("cat /sandbox/f", kept));
  EXPECT_EQ(still.status, 200) << still.body;
  EXPECT_EQ(field_of(still, "stdout"), kept);
  EXPECT_EQ(node_of(still), sessions.elsewhere_node);

  // Nothing leaks on the survivors: once its session is deleted, no sandbox process and no
  // cgroup of theirs remains.
  EXPECT_EQ(http_request(proxy, "DELETE", "/session/" + kept).status, 200);
  for (const std::string node : {"n1", "n3"}) {
    const long uid = cluster().node_sandbox_uid(node);
    const pid_t pid = cluster().node_pid(node);
    EXPECT_TRUE(wait_until([&] {
      return pids_with_host_uid(uid).empty() && isol8_cgroups_of({pid}).empty();
    })) << node
        << " keeps " << pids_with_host_uid(uid).size() << " sandbox process(es), "
        << isol8_cgroups_of({pid}).size() << " cgroup(s)";
  }
  // The killed node's sandboxes died with it.
  EXPECT_TRUE(wait_until([&] {
    return pids_with_host_uid(cluster().node_sandbox_uid(victim)).empty();
  })) << "sandbox processes outlived the killed "
      << victim;

  // Restarted: HAProxy takes it back, it serves ephemeral requests, and its old session is
  // reported lost (410) wherever it is asked for. Its start-up removes what the killed process
  // left (cgroups).
  ASSERT_EQ(cluster().start_node(victim), "");
  EXPECT_EQ(cluster().haproxy_status(victim), "UP");
  std::map<std::string, int> served;
  for (int i = 0; i < 30; ++i) {
    const HttpReply reply = post_json(proxy, "/execute", execute_body("true"));
    EXPECT_EQ(reply.status, 200) << reply.body;
    served[node_of(reply)]++;
  }
  EXPECT_GT(served[victim], 0) << "the restarted " << victim << " served none of 30";
  expect_clear_error(post_json(proxy, "/execute", execute_body("true", lost)), 410, lost, victim,
                     "POST /execute through HAProxy after the restart");
  expect_clear_error(post_json(node_port("n1"), "/execute", execute_body("true", lost)), 410, lost,
                     victim, "POST /execute on n1 after the restart");
  EXPECT_EQ(isol8_cgroups_of({dead}), std::set<std::string>{})
      << "the killed node's cgroups outlived its restart";
}

// A drain long enough that HAProxy's checks (about 1 s) take the node out well before it exits.
class ClusterDrainTest : public ClusterTest {
 protected:
  json node_config() const override { return {{"server", {{"drainMs", 8000}}}}; }
};

TEST_F(ClusterDrainTest, DrainingNodeLeavesHaproxyBeforeItExitsAndNoRequestFails) {
  const std::string node = "n3";
  const pid_t pid = cluster().node_pid(node);
  EphemeralLoad load(proxy_port(), 4);
  ASSERT_TRUE(wait_until([&] { return load.count() >= 30; }, std::chrono::seconds(60)));
  cluster().signal_node(node, SIGTERM);

  // Draining: /health says so with 503, and the node still serves what reaches it directly.
  EXPECT_TRUE(wait_until([&] {
    return http_request(node_port(node), "GET", "/health", "", "").status == 503;
  })) << "/health did not turn 503";
  const HttpReply health = http_request(node_port(node), "GET", "/health", "", "");
  EXPECT_EQ(health.json().value("status", ""), "draining") << health.body;
  EXPECT_EQ(health.json().value("node", ""), node) << health.body;
  const HttpReply direct = post_json(node_port(node), "/execute", execute_body("echo -n still"));
  EXPECT_EQ(direct.status, 200) << direct.body;

  ASSERT_TRUE(cluster().wait_haproxy_status(node, "DOWN"));
  EXPECT_TRUE(running(pid)) << "the node exited before HAProxy took it out";
  const auto out_at = Clock::now();
  // The node exits by itself once its drain is over.
  EXPECT_TRUE(wait_until([&] { return !running(pid); }, std::chrono::seconds(60)))
      << node << " still runs after its drain";
  const size_t at_exit = load.count();
  ASSERT_TRUE(wait_until([&] { return load.count() >= at_exit + 30; }, std::chrono::seconds(60)));
  load.stop();

  const auto replies = load.replies();
  std::cout << "[cluster] ephemeral replies across the drain:" << describe(replies) << "\n"
            << std::flush;
  for (const auto& r : replies) {
    EXPECT_EQ(r.status, 200) << r.body;
    if (r.sent > out_at) {
      EXPECT_NE(r.node, node);
    }
  }
}

}  // namespace
}  // namespace isol8::test
