// Live stdin over the WebSocket (ours): with `"stdinStream": true` in the execute message, the
// client's stdin messages reach the running program as they arrive, and `"eof": true` ends its
// input; without it, stdin messages are ignored and the program sees the request's `stdin` then
// EOF, as upstream's clients expect. Each conversation waits for the program's output before it
// sends more, so that what is asserted is liveness, not timing. On both backends.

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "server_backends.h"

namespace isol8::test {
namespace {

using nlohmann::json;

json bash(const std::string& cmd) { return {{"runtime", "bash"}, {"code", cmd}}; }
json python(const std::string& code) { return {{"runtime", "python"}, {"code", code}}; }

std::string execute(const json& request, json extra = json::object()) {
  extra["type"] = "execute";
  extra["request"] = request;
  return extra.dump();
}
std::string live(const json& request) { return execute(request, {{"stdinStream", true}}); }
std::string stdin_message(const std::string& data) {
  return json{{"type", "stdin"}, {"data", data}}.dump();
}
std::string stdin_eof() { return json{{"type", "stdin"}, {"eof", true}}.dump(); }

// The code phase's stdout of a conversation, joined.
std::string stdout_of(const WsReply& ws) {
  std::string out;
  for (const auto& f : ws.frames) {
    if (f.value("type", "") == "stdout") out += f.value("data", "");
  }
  return out;
}

std::vector<std::string> errors_of(const WsReply& ws) {
  std::vector<std::string> errors;
  for (const auto& f : ws.frames) {
    if (f.value("type", "") == "error") errors.push_back(f.value("data", ""));
  }
  return errors;
}

std::string describe(const WsReply& ws) {
  std::string s = "close " + std::to_string(ws.close_code) + " " + ws.close_reason + "; frames:";
  for (const auto& f : ws.frames) s += "\n  " + f.dump();
  return s;
}

// Answers the program: once its stdout so far contains `after` (and only once), sends `messages`.
class Script {
 public:
  Script& when(std::string after, std::vector<std::string> messages) {
    steps_.push_back({std::move(after), std::move(messages)});
    return *this;
  }
  WsResponder responder() {
    return [this](const json& frame) {
      std::vector<std::string> out;
      if (frame.value("type", "") == "stdout") seen_ += frame.value("data", "");
      while (next_ < steps_.size() && seen_.find(steps_[next_].first) != std::string::npos) {
        for (auto& m : steps_[next_].second) out.push_back(m);
        ++next_;
      }
      return out;
    };
  }

 private:
  std::vector<std::pair<std::string, std::vector<std::string>>> steps_;
  std::string seen_;
  size_t next_ = 0;
};

// One server per case, on the case's backend (server_backends.h).
class WebSocketStdinTest : public StartedServerTest {};

TEST_P(WebSocketStdinTest, ReadsALineAnswersThenReadsTheNext) {
  // The second line is sent only once the answer to the first has arrived: a program that got
  // its stdin up front could not have answered the first before the second existed.
  Script script;
  script.when("first=one\n", {stdin_message("two\n")});
  auto ws = ws_conversation(port(),
                            {live(bash("read a; echo \"first=$a\"; read b; echo \"second=$b\"; "
                                       "read c || echo \"then eof\"")),
                             stdin_message("one\n")},
                            script.when("second=two\n", {stdin_eof()}).responder());
  ASSERT_TRUE(ws.upgraded);
  EXPECT_EQ(stdout_of(ws), "first=one\nsecond=two\nthen eof\n") << describe(ws);
  EXPECT_TRUE(errors_of(ws).empty()) << describe(ws);
  ASSERT_FALSE(ws.frames.empty());
  EXPECT_EQ(ws.frames.back(), (json{{"type", "exit"}, {"data", "0"}, {"phase", "code"}}));
  EXPECT_EQ(ws.close_code, 1000);
  EXPECT_EQ(ws.close_reason, "Execution complete");
}

TEST_P(WebSocketStdinTest, PythonReadingAllOfStdinSeesEofAfterTheEofMessage) {
  // The request's stdin comes first, then the messages; the eof message's own data before EOF.
  json request = python(
      "import sys\n"
      "print('ready', flush=True)\n"
      "print(repr(sys.stdin.read()))\n");
  request["stdin"] = "head-";
  Script script;
  script.when("ready\n", {stdin_message("a\n"), stdin_message("b"),
                          json{{"type", "stdin"}, {"data", "-c"}, {"eof", true}}.dump()});
  auto ws = ws_conversation(port(), {live(request)}, script.responder());
  ASSERT_TRUE(ws.upgraded);
  EXPECT_EQ(stdout_of(ws), "ready\n'head-a\\nb-c'\n") << describe(ws);
  ASSERT_FALSE(ws.frames.empty());
  EXPECT_EQ(ws.frames.back()["data"], "0") << describe(ws);
}

TEST_P(WebSocketStdinTest, WithoutEofTheTimeLimitStillEndsTheRun) {
  json request = bash("echo waiting; cat; echo never");
  request["timeoutMs"] = 1000;
  auto ws = ws_conversation(port(), {live(request), stdin_message("some\n")}, {});
  ASSERT_TRUE(ws.upgraded);
  EXPECT_EQ(stdout_of(ws), "waiting\nsome\n") << describe(ws);
  EXPECT_EQ(errors_of(ws), std::vector<std::string>{"EXECUTION TIMED OUT"}) << describe(ws);
  ASSERT_FALSE(ws.frames.empty());
  EXPECT_EQ(ws.frames.back()["data"], "137") << describe(ws);
}

TEST_P(WebSocketStdinTest, UpstreamClientsStdinEndsAfterTheRequestsStdin) {
  // No stdinStream: the program sees the request's stdin then EOF at once, and stdin messages
  // are ignored without a reply, as upstream.
  json request = bash("cat; echo \"<end>\"");
  request["stdin"] = "given ";
  auto ws = ws_session(port(), {execute(request), stdin_message("ignored\n"), stdin_eof()});
  ASSERT_TRUE(ws.upgraded);
  EXPECT_EQ(stdout_of(ws), "given <end>\n") << describe(ws);
  EXPECT_TRUE(errors_of(ws).empty()) << describe(ws);
  EXPECT_EQ(ws.close_code, 1000);

  auto none = ws_session(port(), {execute(bash("cat; echo \"<eof at once>\""))});
  EXPECT_EQ(stdout_of(none), "<eof at once>\n") << describe(none);
  auto off = ws_session(port(), {execute(bash("cat; echo done"), {{"stdinStream", false}})});
  EXPECT_EQ(stdout_of(off), "done\n") << describe(off);
}

TEST_P(WebSocketStdinTest, StdinMessagesBeforeTheExecuteMessageAreIgnored) {
  Script script;
  script.when("go\n", {stdin_message("after\n"), stdin_eof()});
  auto ws = ws_conversation(port(), {stdin_message("before\n"), live(bash("echo go; cat"))},
                            script.responder());
  EXPECT_EQ(stdout_of(ws), "go\nafter\n") << describe(ws);
}

TEST_P(WebSocketStdinTest, BadStdinMessagesAreRefusedWithAnError) {
  // After its EOF the program stays, so that the message sent too late meets a running program.
  Script script;
  script.when("ready\n", {json{{"type", "stdin"}, {"data", 42}}.dump(),
                          json{{"type", "stdin"}, {"eof", "yes"}}.dump(), stdin_message("last\n"),
                          stdin_eof()});
  script.when("eof seen\n", {stdin_message("too late\n")});
  bool signalled = false;
  auto respond = [&, inner = script.responder()](const json& frame) {
    auto out = inner(frame);
    if (!signalled && frame.value("data", "") == "Stdin is closed") {
      signalled = true;
      out.push_back(json{{"type", "signal"}, {"signal", "SIGTERM"}}.dump());
    }
    return out;
  };
  auto ws =
      ws_conversation(port(), {live(bash("echo ready; cat; echo 'eof seen'; sleep 60"))}, respond);
  EXPECT_EQ(stdout_of(ws), "ready\nlast\neof seen\n") << describe(ws);
  EXPECT_EQ(errors_of(ws),
            (std::vector<std::string>{"stdin data must be a string", "stdin eof must be a boolean",
                                      "Stdin is closed"}))
      << describe(ws);
  ASSERT_FALSE(ws.frames.empty());
  EXPECT_EQ(ws.frames.back()["type"], "exit") << describe(ws);
  EXPECT_NE(ws.frames.back()["data"], "0") << describe(ws);

  auto bad_flag = ws_session(port(), {execute(bash("echo no"), {{"stdinStream", "yes"}})});
  EXPECT_EQ(errors_of(bad_flag), std::vector<std::string>{"stdinStream must be a boolean"})
      << describe(bad_flag);
  EXPECT_EQ(stdout_of(bad_flag), "");
  EXPECT_EQ(bad_flag.close_code, 1000);
}

TEST_P(WebSocketStdinTest, AProgramThatDoesNotReadCannotMakeTheServerBufferWithoutBound) {
  // 6 MiB for a program that never reads: the server keeps at most 1 MiB of it (beyond the
  // socket's and the runner's buffers) and refuses the rest, saying so; the client then stops it.
  const std::string chunk(512 * 1024, 'x');
  std::vector<std::string> flood(12, stdin_message(chunk));
  Script script;
  script.when("ready\n", flood);
  bool signalled = false;
  auto respond = [&, inner = script.responder()](const json& frame) {
    auto out = inner(frame);
    if (!signalled && frame.value("type", "") == "error") {
      signalled = true;
      out.push_back(json{{"type", "signal"}, {"signal", "SIGTERM"}}.dump());
    }
    return out;
  };
  auto ws = ws_conversation(port(), {live(bash("echo ready; sleep 60"))}, respond);
  ASSERT_TRUE(ws.upgraded);
  const auto errors = errors_of(ws);
  ASSERT_FALSE(errors.empty()) << describe(ws);
  EXPECT_EQ(errors.front().rfind("Stdin message dropped: the program has not read the ", 0), 0u)
      << errors.front();
  EXPECT_NE(errors.front().find("(at most 1048576 may wait)"), std::string::npos) << errors.front();
  ASSERT_FALSE(ws.frames.empty());
  EXPECT_EQ(ws.frames.back()["type"], "exit");
  EXPECT_NE(ws.frames.back()["data"], "0");
  EXPECT_EQ(ws.close_code, 1000);
}

TEST_P(WebSocketStdinTest, LiveStdinInASession) {
  // The session's sandbox keeps what the live run wrote; a later execution there reads it.
  Script script;
  script.when("name?\n", {stdin_message("kept-name\n")});
  auto ws = ws_conversation(
      port(),
      {execute(bash("echo 'name?'; read n; echo -n \"$n\" > /sandbox/name; echo \"hello $n\""),
               {{"stdinStream", true}, {"sessionId", "ws-stdin"}})},
      script.responder());
  EXPECT_EQ(stdout_of(ws), "name?\nhello kept-name\n") << describe(ws);
  ASSERT_FALSE(ws.frames.empty());
  EXPECT_EQ(ws.frames.back()["data"], "0") << describe(ws);

  // A second live run in the same session, and the request's stdin ahead of the messages.
  json request = bash("read a; read b; echo \"$(cat /sandbox/name) $a $b\"");
  request["stdin"] = "from-request\n";
  Script second;
  auto again =
      ws_conversation(port(),
                      {execute(request, {{"stdinStream", true}, {"sessionId", "ws-stdin"}}),
                       stdin_message("from-message\n")},
                      second.responder());
  EXPECT_EQ(stdout_of(again), "kept-name from-request from-message\n") << describe(again);

  auto plain = post_json(port(), "/execute",
                         {{"request", bash("cat /sandbox/name")}, {"sessionId", "ws-stdin"}});
  EXPECT_EQ(plain.json()["stdout"], "kept-name") << plain.body;
  http_request(port(), "DELETE", "/session/ws-stdin");
}

ISOL8_BACKEND_SUITE(WebSocketStdinTest);

}  // namespace
}  // namespace isol8::test
