// A live stdin (RunControl::stdin_fd): after the request's stdin, the program reads what the
// caller writes into the fd while it runs, and sees EOF when the caller closes it; on every
// backend, in a one-shot run (with the warm pool: docker's exec in a pooled container; without it:
// a sandbox or container of its own) and in a persistent session (native's pooled sandboxes run
// through the session's path too). The caller writes its next line only after the program answered
// the last, from the stream callback, so the cases assert liveness, not timing.

#include <fcntl.h>
#include <unistd.h>

#include "common/unique_fd.h"
#include "support/test_support.h"

namespace isol8::test {
namespace {

enum class Mode { kEphemeral, kUnpooled, kSession };

const char* mode_name(Mode m) {
  switch (m) {
    case Mode::kEphemeral:
      return "Ephemeral";
    case Mode::kUnpooled:
      return "Unpooled";
    case Mode::kSession:
      return "Session";
  }
  return "?";
}

// The caller's side of the live stdin: a pipe whose read end goes into RunControl.
struct StdinPipe {
  UniqueFd reader, writer;
  StdinPipe() {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) == 0) {
      reader.reset(fds[0]);
      writer.reset(fds[1]);
    }
  }
  void send(const std::string& data) {
    ASSERT_EQ(::write(writer.get(), data.data(), data.size()), static_cast<ssize_t>(data.size()));
  }
};

class LiveStdin : public BackendCaseTest<Mode> {
 protected:
  std::unique_ptr<Engine> engine() {
    Options o = options();
    if (param() == Mode::kUnpooled) o.pool_size = {0, 0};
    if (param() == Mode::kSession) o.mode = EngineMode::kPersistent;
    auto made = Engine::create(std::move(o));
    EXPECT_TRUE(made) << made.error().message;
    return made ? std::move(made).value() : nullptr;
  }

  // Runs `request` streamed with `pipe` as its live stdin; `on_stdout(all stdout so far)` may
  // write to or close the pipe.
  Result<ExecutionResult> run(Engine& engine, const ExecutionRequest& request, StdinPipe& pipe,
                              const std::function<void(const std::string&)>& on_stdout) {
    RunControl control;
    control.stdin_fd = pipe.reader.get();
    std::string out;
    return engine.execute_stream(
        request,
        [&](const StreamEvent& e) {
          if (e.type != StreamEvent::Type::kStdout) return;
          out += e.data;
          on_stdout(out);
        },
        control);
  }
};

TEST_P(LiveStdin, EachLineIsAnsweredBeforeTheNextIsWritten) {
  auto e = engine();
  ASSERT_TRUE(e);
  StdinPipe pipe;
  ASSERT_TRUE(pipe.writer);
  pipe.send("one\n");
  bool sent_two = false;
  auto r = run(*e,
               bash_request("read a; echo \"got-$a\"; read b; echo \"got-$b\"; "
                            "read c || echo \"then eof\""),
               pipe, [&](const std::string& out) {
                 if (!sent_two && contains(out, "got-one\n")) {
                   sent_two = true;
                   pipe.send("two\n");
                 }
                 if (contains(out, "got-two\n")) pipe.writer.reset();
               });
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->exit_code, 0) << describe(*r);
  EXPECT_EQ(r->stdout_data, "got-one\ngot-two\nthen eof") << describe(*r);
}

TEST_P(LiveStdin, RequestStdinFirstThenTheFdUntilItsEof) {
  auto e = engine();
  ASSERT_TRUE(e);
  StdinPipe pipe;
  ASSERT_TRUE(pipe.writer);
  pipe.send("-live");
  ExecutionRequest request = python_request(
      "import sys\n"
      "print('ready', flush=True)\n"
      "print(repr(sys.stdin.read()))\n");
  request.stdin_data = "head";
  auto r = run(*e, request, pipe, [&](const std::string& out) {
    if (out == "ready\n") {
      pipe.send("-tail");
      pipe.writer.reset();
    }
  });
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->exit_code, 0) << describe(*r);
  EXPECT_EQ(r->stdout_data, "ready\n'head-live-tail'") << describe(*r);
}

TEST_P(LiveStdin, AProgramThatEndsWithoutReadingDoesNotWaitForTheFd) {
  auto e = engine();
  ASSERT_TRUE(e);
  StdinPipe pipe;  // never written, never closed during the run
  ASSERT_TRUE(pipe.writer);
  ExecutionRequest request = bash_request("echo done");
  request.timeout_ms = 20000;
  auto r = run(*e, request, pipe, [](const std::string&) {});
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->status, RunStatus::kOk) << describe(*r);
  EXPECT_EQ(r->stdout_data, "done");
  if (param() == Mode::kSession) {
    // The session goes on, without a live stdin: EOF after the request's stdin, as always.
    ExecutionRequest next = bash_request("cat; echo next");
    next.stdin_data = "in-";
    auto again = e->execute(next);
    ASSERT_TRUE(again) << again.error().message;
    EXPECT_EQ(again->stdout_data, "in-next") << describe(*again);
  }
}

ISOL8_BACKEND_CASES(Modes, LiveStdin,
                    ::testing::Values(Mode::kEphemeral, Mode::kUnpooled, Mode::kSession),
                    mode_name);

}  // namespace
}  // namespace isol8::test
