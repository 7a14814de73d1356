// Executions through the real server on both backends (server_backends.h): POST /execute, the
// SSE stream of /execute/stream and the WebSocket of /execute/ws, with their results, events,
// timeouts, setup-script phases and signals; /cleanup; a SIGTERM that lets a running execution
// finish.

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <thread>

#include "server_backends.h"

namespace isol8::test {
namespace {

using nlohmann::json;

json bash(const std::string& cmd) { return {{"runtime", "bash"}, {"code", cmd}}; }

// One server per case, on the case's backend (server_backends.h).
class ServerExecTest : public StartedServerTest {};

TEST_P(ServerExecTest, ExecuteReturnsTheResult) {
  auto r = post_json(port(), "/execute", {{"request", bash("echo hello; echo err >&2; exit 3")}});
  ASSERT_EQ(r.status, 200) << r.body;
  const json j = r.json();
  EXPECT_EQ(j["stdout"], "hello");
  EXPECT_EQ(j["stderr"], "err");
  EXPECT_EQ(j["exitCode"], 3);
  EXPECT_EQ(j["runtime"], "bash");
  EXPECT_TRUE(j["executionId"].is_string());
  EXPECT_TRUE(j["durationMs"].is_number_integer());
  EXPECT_EQ(j["truncated"], false);
}

TEST_P(ServerExecTest, ExecuteWithStdinAndEnv) {
  auto r = post_json(port(), "/execute",
                     {{"request",
                       {{"runtime", "bash"},
                        {"code", "read line; echo \"$line-$GREETING\""},
                        {"stdin", "abc\n"},
                        {"env", {{"GREETING", "hi"}}}}}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json()["stdout"], "abc-hi");
}

TEST_P(ServerExecTest, AnExecutionIsOneContainer) {
  if (!is_docker()) GTEST_SKIP() << "about docker's containers";
  std::atomic<bool> replied = false;
  HttpReply reply;
  std::thread client([&] {
    reply = post_json(port(), "/execute", {{"request", bash("sleep 2; echo done")}});
    replied = true;
  });
  // Sampled while it runs: its own container, and no warm one beside it that nobody would use.
  long most = 0;
  while (!replied) {
    most = std::max(most, containers_of(*server_));
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  client.join();
  EXPECT_EQ(reply.json()["stdout"], "done") << reply.body;
  EXPECT_EQ(most, 1);
  EXPECT_TRUE(wait_until([&] { return containers_of(*server_) == 0; }));
}

TEST_P(ServerExecTest, TimeoutResultAndSseEvents) {
  auto r = post_json(
      port(), "/execute",
      {{"request", {{"runtime", "bash"}, {"code", "echo start; sleep 5"}, {"timeoutMs", 500}}}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json()["exitCode"], 137);
  EXPECT_TRUE(contains(r.json()["stderr"].get<std::string>(), "--- EXECUTION TIMED OUT ---"));

  auto sse = sse_execute(
      port(),
      {{"request", {{"runtime", "bash"}, {"code", "echo start; sleep 5"}, {"timeoutMs", 500}}}});
  ASSERT_EQ(sse.http.status, 200);
  ASSERT_GE(sse.events.size(), 3u) << sse.http.body;
  EXPECT_EQ(sse.events[sse.events.size() - 2],
            (json{{"type", "error"}, {"data", "EXECUTION TIMED OUT"}, {"phase", "code"}}));
  EXPECT_EQ(sse.events.back(), (json{{"type", "exit"}, {"data", "137"}, {"phase", "code"}}));
}

TEST_P(ServerExecTest, SseFramingAndOrder) {
  auto sse = sse_execute(port(), {{"request", bash("echo one; echo two >&2; exit 4")}});
  ASSERT_EQ(sse.http.status, 200);
  EXPECT_EQ(sse.http.headers["content-type"], "text/event-stream");
  EXPECT_EQ(sse.http.headers["cache-control"], "no-cache");
  // Every event is exactly "data: <one-line JSON>\n\n", keys in upstream's order.
  std::string_view body = sse.http.body;
  size_t blocks = 0;
  while (!body.empty()) {
    const size_t end = body.find("\n\n");
    ASSERT_NE(end, std::string_view::npos) << sse.http.body;
    const std::string_view block = body.substr(0, end);
    EXPECT_EQ(block.rfind("data: {\"type\":", 0), 0u) << block;
    EXPECT_EQ(block.find('\n'), std::string_view::npos);
    body.remove_prefix(end + 2);
    ++blocks;
  }
  EXPECT_EQ(blocks, sse.events.size());
  std::string out, err;
  for (size_t i = 0; i + 1 < sse.events.size(); ++i) {
    if (sse.events[i]["type"] == "stdout") out += sse.events[i]["data"].get<std::string>();
    if (sse.events[i]["type"] == "stderr") err += sse.events[i]["data"].get<std::string>();
  }
  EXPECT_EQ(out, "one\n");
  EXPECT_EQ(err, "two\n");
  EXPECT_EQ(sse.events.back(), (json{{"type", "exit"}, {"data", "4"}, {"phase", "code"}}));
}

TEST_P(ServerExecTest, SseSetupScriptPhases) {
  auto sse = sse_execute(
      port(), {{"request",
                {{"runtime", "bash"}, {"code", "echo code"}, {"setupScript", "echo setting-up"}}}});
  ASSERT_EQ(sse.http.status, 200);
  // "<phase>:<stdout>" (a phase's chunks joined: they may be cut anywhere) and "<phase>:exit <n>".
  std::vector<std::string> seen;
  bool in_output = false;
  for (const auto& e : sse.events) {
    const std::string tag = e.value("phase", "?") + ":";
    if (e["type"] == "stdout") {
      if (in_output && seen.back().starts_with(tag)) {
        seen.back() += e["data"].get<std::string>();
      } else {
        seen.push_back(tag + e["data"].get<std::string>());
      }
    } else if (e["type"] == "exit") {
      seen.push_back(tag + "exit " + e["data"].get<std::string>());
    }
    in_output = e["type"] == "stdout";
  }
  EXPECT_EQ(seen, (std::vector<std::string>{"setup:setting-up\n", "setup:exit 0", "code:code\n",
                                            "code:exit 0"}))
      << sse.http.body;
}

TEST_P(ServerExecTest, WebSocketExecuteAndClose) {
  auto ws = ws_session(port(), {json{{"type", "execute"}, {"request", bash("echo hi")}}.dump()});
  ASSERT_TRUE(ws.upgraded);
  ASSERT_FALSE(ws.frames.empty());
  EXPECT_EQ(ws.frames.front(), (json{{"type", "stdout"}, {"data", "hi\n"}, {"phase", "code"}}));
  EXPECT_EQ(ws.frames.back(), (json{{"type", "exit"}, {"data", "0"}, {"phase", "code"}}));
  EXPECT_EQ(ws.close_code, 1000);
  EXPECT_EQ(ws.close_reason, "Execution complete");
}

TEST_P(ServerExecTest, WebSocketSignalStopsTheProgram) {
  // The signal goes once "started" has arrived: the program is running then.
  auto ws = ws_session(
      port(),
      {json{{"type", "execute"}, {"request", bash("echo started; sleep 20; echo never")}}.dump(),
       json{{"type", "signal"}, {"signal", "SIGINT"}}.dump()});
  ASSERT_TRUE(ws.upgraded);
  ASSERT_FALSE(ws.frames.empty());
  EXPECT_EQ(ws.frames.front(),
            (json{{"type", "stdout"}, {"data", "started\n"}, {"phase", "code"}}));
  EXPECT_EQ(ws.frames.back()["type"], "exit");
  EXPECT_NE(ws.frames.back()["data"], "0");
  for (const auto& f : ws.frames) EXPECT_NE(f["data"], "never\n");
  EXPECT_EQ(ws.close_code, 1000);
}

TEST_P(ServerExecTest, CleanupStopsEverySessionAndKeepsTheImages) {
  for (const char* id : {"c1", "c2"}) {
    ASSERT_EQ(post_json(port(), "/execute", {{"request", bash("true")}, {"sessionId", id}}).status,
              200);
  }
  EXPECT_EQ(containers_of(*server_), is_docker() ? 2 : 0);
  auto r = post_json(port(), "/cleanup", json::object());
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json()["ok"], true);
  EXPECT_EQ(r.json()["sessions"], (json{{"removed", 2}, {"failed", 0}, {"errors", json::array()}}));
  EXPECT_FALSE(r.json().contains("images"));
  EXPECT_TRUE(http_request(port(), "GET", "/sessions").json()["sessions"].empty());
  EXPECT_EQ(containers_of(*server_), 0);
  // The runtime's image (docker) is still there: runs go on.
  EXPECT_EQ(post_json(port(), "/execute", {{"request", bash("echo after")}}).json()["stdout"],
            "after");
}

TEST_P(ServerExecTest, SigtermFinishesRunningExecutionsThenExits) {
  HttpReply reply;
  std::thread client([&] {
    reply = post_json(port(), "/execute", {{"request", bash("sleep 1; echo finished")}});
  });
  // SIGTERM once the execution runs (its engine may still be starting: it finishes all the same).
  const bool running = wait_until([&] {
    return contains(http_request(port(), "GET", "/metrics").body, "isol8_executions_in_flight 1");
  });
  auto run = server_->stop();
  client.join();
  ASSERT_TRUE(running) << "the execution never ran";
  EXPECT_EQ(reply.status, 200);
  EXPECT_EQ(reply.json()["stdout"], "finished");
  EXPECT_EQ(run.exit_code, 0) << describe(run);
  EXPECT_TRUE(contains(run.out, "listening on http://localhost:" + std::to_string(port())));
  EXPECT_TRUE(contains(run.out, "       Auth: Bearer token required"));
  EXPECT_TRUE(contains(run.out, "[INFO] Shutting down isol8 server..."));
  EXPECT_TRUE(contains(run.out, "[INFO] Server cleanup complete"));
  // The access log: one JSON line per request, never the key.
  EXPECT_TRUE(contains(run.err, "\"path\":\"/execute\"")) << run.err;
  EXPECT_FALSE(contains(run.err, kMasterKey));
  EXPECT_FALSE(contains(run.err, "echo finished"));
}

ISOL8_BACKEND_SUITE(ServerExecTest);

}  // namespace
}  // namespace isol8::test
