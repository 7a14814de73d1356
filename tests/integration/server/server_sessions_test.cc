// Sessions (persistent engines keyed by sessionId) through the real server on both backends
// (server_backends.h): state and files kept between executions, POST/GET /file, GET /sessions,
// DELETE /session/:id, a refused runtime switch, pruning of idle sessions, and shutdown stopping
// them. On docker a session is one container of the server's, gone when the session ends.

#include <gtest/gtest.h>

#include <cstdio>

#include <algorithm>
#include <thread>

#include "server_backends.h"
#include "support/host_state.h"

namespace isol8::test {
namespace {

using nlohmann::json;

json bash(const std::string& cmd) { return {{"runtime", "bash"}, {"code", cmd}}; }

class SessionServerTest : public ServerBackendTest {};

TEST_P(SessionServerTest, SessionKeepsStateAndFilesRoundTrip) {
  TestServer& server = start();
  ASSERT_TRUE(server.ready());
  const int port = server.port();
  auto first = post_json(port, "/execute",
                         {{"request", bash("echo -n 41 > /sandbox/n")}, {"sessionId", "s1"}});
  ASSERT_EQ(first.status, 200) << first.body;
  EXPECT_EQ(containers_of(server), is_docker() ? 1 : 0);
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
  // A file the session's program wrote comes back too.
  auto made = http_request(port, "GET", "/file?sessionId=s1&path=/sandbox/n");
  ASSERT_EQ(made.status, 200) << made.body;
  EXPECT_EQ(made.json()["content"], base64("41"));

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
  EXPECT_EQ(containers_of(server), 0);
  EXPECT_EQ(http_request(port, "DELETE", "/session/s1").body, R"({"ok":true})");  // idempotent
  EXPECT_TRUE(http_request(port, "GET", "/sessions").json()["sessions"].empty());
  EXPECT_EQ(http_request(port, "GET", "/file?sessionId=s1&path=/sandbox/n").status, 404);
}

TEST_P(SessionServerTest, RuntimeSwitchIsRefusedAndSessionSurvives) {
  TestServer& server = start();
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
  EXPECT_EQ(containers_of(server), is_docker() ? 1 : 0);
}

TEST_P(SessionServerTest, IdleSessionsArePruned) {
  TestServer& server = start(json{{"cleanup", {{"autoPrune", true}, {"maxContainerAgeMs", 1000}}},
                                  {"server", {{"pruneIntervalMs", 200}}}});
  ASSERT_TRUE(server.ready());
  ASSERT_EQ(post_json(server.port(), "/execute", {{"request", bash("true")}, {"sessionId", "idle"}})
                .status,
            200);
  EXPECT_EQ(http_request(server.port(), "GET", "/sessions").json()["sessions"].size(), 1u);
  EXPECT_TRUE(wait_until([&] {
    return http_request(server.port(), "GET", "/sessions").json()["sessions"].empty();
  })) << "the idle session was not pruned";
  // Its sandbox goes with it.
  EXPECT_TRUE(wait_until([&] { return containers_of(server) == 0; }));
}

TEST_P(SessionServerTest, ShutdownStopsSessions) {
  TestServer& server = start();
  ASSERT_TRUE(server.ready());
  // A background process with a marker no other test uses.
  auto r = post_json(
      server.port(), "/execute",
      {{"request", bash("sleep 297.25 >/dev/null 2>&1 & echo started")}, {"sessionId", "bg"}});
  ASSERT_EQ(r.status, 200) << r.body;
  // Counted from /proc by exact argv: a `pgrep -f` through a shell counts that shell as well.
  // (A docker container's processes are in this /proc too.)
  auto count = [] {
    const std::vector<std::string> wanted = {"sleep", "297.25"};
    const std::vector<pid_t> pids = all_pids();
    return std::count_if(pids.begin(), pids.end(),
                         [&](pid_t pid) { return cmdline_of(pid) == wanted; });
  };
  // The background shell may not have exec'd sleep yet when the reply comes.
  EXPECT_TRUE(wait_until([&] { return count() == 1; })) << count() << " sleep processes";
  EXPECT_EQ(containers_of(server), is_docker() ? 1 : 0);
  auto run = server.stop();
  EXPECT_EQ(run.exit_code, 0) << describe(run);
  EXPECT_EQ(count(), 0);
  EXPECT_EQ(containers_of(server), 0);
}

ISOL8_BACKEND_SUITE(SessionServerTest);

}  // namespace
}  // namespace isol8::test
