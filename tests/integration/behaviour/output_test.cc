// What comes out of a run: secret masking (also of a secret split across reads), the output cap,
// odd bytes (NUL, invalid UTF-8) through --json, and the order of streamed output.

#include "support/test_support.h"

namespace isol8::test {
namespace {

using nlohmann::json;

class Output : public BackendTest {};
// Its cases that only drive the CLI: also through a server (the remote kind).
class OutputCli : public CliBackendTest {};

const char* kSecretArg = "K=sk-1234";

void expect_no_secret(const CliRun& r) {
  for (const std::string* s : {&r.out, &r.err}) {
    EXPECT_FALSE(contains(*s, "sk-1234")) << describe(r);
    EXPECT_FALSE(contains(*s, "1234")) << describe(r);
    EXPECT_FALSE(contains(*s, "sk-1")) << describe(r);
  }
}

// ---- secret masking through the CLI

class SecretMasking : public CliBackendCaseTest<bool /*no_stream*/> {
 protected:
  std::vector<std::string> args(const std::string& code) const {
    std::vector<std::string> a = {"run", "--secret", kSecretArg, "-e", code};
    if (param()) a.push_back("--no-stream");
    return a;
  }
};

TEST_P(SecretMasking, SecretIsMaskedInStdoutAndStderr) {
  const CliRun r =
      cli().run(args("import os, sys\n"
                     "print('out', os.environ['K'], 'end')\n"
                     "print('err', os.environ['K'], 'end', file=sys.stderr)\n"));
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_EQ(r.out, "out *** end\n");
  EXPECT_EQ(without_warnings(r.err), "err *** end\n");
  expect_no_secret(r);
}

TEST_P(SecretMasking, SecretSplitAcrossReadsIsMasked) {
  // The two halves are written with a flush and a pause between them, so the runner reads them
  // separately; the masker must hold the first half back until it knows.
  const CliRun r =
      cli().run(args("import os, sys, time\n"
                     "v = os.environ['K']\n"
                     "sys.stdout.write('a' + v[:4]); sys.stdout.flush()\n"
                     "sys.stderr.write('b' + v[:4]); sys.stderr.flush()\n"
                     "time.sleep(0.3)\n"
                     "sys.stdout.write(v[4:] + 'z\\n'); sys.stdout.flush()\n"
                     "sys.stderr.write(v[4:] + 'y\\n'); sys.stderr.flush()\n"));
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_EQ(r.out, "a***z\n");
  EXPECT_EQ(without_warnings(r.err), "b***y\n");
  expect_no_secret(r);
}

TEST_P(OutputCli, SecretIsMaskedInJson) {
  std::vector<std::string> a = {"run",    "--secret", kSecretArg,
                                "--json", "-e",       "import os; print(os.environ['K'] * 3)"};
  const CliRun r = cli().run(a);
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  const json j = json::parse(r.out, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << r.out;
  EXPECT_EQ(j["stdout"], "*********");
  expect_no_secret(r);
}

const char* mode_name(bool no_stream) { return no_stream ? "NoStream" : "Stream"; }

ISOL8_CLI_CASES(Modes, SecretMasking, ::testing::Values(false, true), mode_name);

TEST_P(Output, SplitSecretArrivesInSeveralStreamEventsAllMasked) {
  Options o = options();
  o.secrets["K"] = "sk-1234";
  auto engine = Engine::create(o);
  ASSERT_TRUE(engine) << engine.error().message;
  std::vector<StreamEvent> events;
  auto r =
      (*engine)->execute_stream(python_request("import os, sys, time\n"
                                               "v = os.environ['K']\n"
                                               "sys.stdout.write('a' + v[:4]); sys.stdout.flush()\n"
                                               "time.sleep(0.3)\n"
                                               "sys.stdout.write(v[4:] + 'z'); sys.stdout.flush()\n"
                                               "time.sleep(0.3)\n"
                                               "sys.stdout.write('-tail\\n')\n"),
                                [&](const StreamEvent& e) { events.push_back(e); });
  ASSERT_TRUE(r) << r.error().message;
  std::string out;
  int stdout_events = 0;
  for (const auto& e : events) {
    if (e.type != StreamEvent::Type::kStdout) continue;
    ++stdout_events;
    out += e.data;
    EXPECT_FALSE(contains(e.data, "sk-")) << e.data;
    EXPECT_FALSE(contains(e.data, "234")) << e.data;
  }
  EXPECT_EQ(out, "a***z-tail\n");
  EXPECT_GE(stdout_events, 2) << "the output was not streamed in pieces";
  EXPECT_EQ(r->stdout_data, "a***z-tail");
}

// ---- output cap

class Truncation : public CliBackendCaseTest<bool /*no_stream*/> {};

TEST_P(Truncation, TenKilobytesWithA1KiBCapIsTruncated) {
  std::vector<std::string> a = {"run", "--max-output", "1024", "-e", "print('x' * 10000)"};
  if (param()) a.push_back("--no-stream");
  const CliRun r = cli().run(a);
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_TRUE(contains(r.out, "--- OUTPUT TRUNCATED (")) << describe(r);
  EXPECT_TRUE(contains(r.out, "limit: 1024) ---")) << describe(r);
  EXPECT_LT(r.out.size(), 2048u);
  EXPECT_EQ(r.out.rfind(std::string(1024, 'x'), 0), 0u) << "the kept prefix is not 1024 bytes";
  EXPECT_FALSE(contains(r.out, std::string(1025, 'x')));
}

ISOL8_CLI_CASES(Modes, Truncation, ::testing::Values(false, true), mode_name);

TEST_P(OutputCli, JsonReportsTruncated) {
  const CliRun r = cli().run({"run", "--json", "--max-output", "1024", "-e", "print('x' * 10000)"});
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  const json j = json::parse(r.out, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << r.out;
  EXPECT_EQ(j["truncated"], true);
  EXPECT_TRUE(contains(j["stdout"].get<std::string>(), "--- OUTPUT TRUNCATED (")) << j.dump();
  EXPECT_LT(j["stdout"].get<std::string>().size(), 2048u);
}

TEST_P(OutputCli, JsonSmallOutputIsNotTruncated) {
  const CliRun r = cli().run({"run", "--json", "--max-output", "1024", "-e", "print('x' * 100)"});
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  const json j = json::parse(r.out, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << r.out;
  EXPECT_EQ(j["truncated"], false);
  EXPECT_EQ(j["stdout"], std::string(100, 'x'));
}

TEST_P(OutputCli, StderrIsCappedToo) {
  const CliRun r = cli().run(
      {"run", "--json", "--max-output", "1024", "-e", "import sys; sys.stderr.write('e' * 10000)"});
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  const json j = json::parse(r.out, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << r.out;
  EXPECT_EQ(j["truncated"], true);
  EXPECT_LT(j["stderr"].get<std::string>().size(), 2048u);
  EXPECT_TRUE(contains(j["stderr"].get<std::string>(), "--- OUTPUT TRUNCATED (")) << j.dump();
}

// ---- odd bytes

TEST_P(OutputCli, NulBytesSurviveJson) {
  const CliRun r =
      cli().run({"run", "--json", "-e", "import sys; sys.stdout.buffer.write(b'a\\0b')"});
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  const json j = json::parse(r.out, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << "not JSON: " << r.out;
  EXPECT_EQ(j["stdout"].get<std::string>(), std::string("a\0b", 3));
}

TEST_P(OutputCli, NulBytesPassThroughRawOutput) {
  for (bool no_stream : {false, true}) {
    std::vector<std::string> a = {"run", "-e", "import sys; sys.stdout.buffer.write(b'a\\0b')"};
    if (no_stream) a.push_back("--no-stream");
    const CliRun r = cli().run(a);
    ASSERT_EQ(r.exit_code, 0) << describe(r);
    EXPECT_EQ(rtrim(r.out), std::string("a\0b", 3)) << "no_stream=" << no_stream;
  }
}

TEST_P(OutputCli, InvalidUtf8StillGivesValidJson) {
  const CliRun r = cli().run(
      {"run", "--json", "-e", "import sys; sys.stdout.buffer.write(b'ok\\xff\\xfe\\xc3end')"});
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  const json j = json::parse(r.out, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << "not JSON: " << r.out;
  const std::string s = j["stdout"].get<std::string>();
  EXPECT_EQ(s.rfind("ok", 0), 0u) << s;
  EXPECT_TRUE(contains(s, "end")) << s;
}

// ---- order

TEST_P(Output, StreamedOutputKeepsItsOrder) {
  const std::string code =
      "import sys, time\n"
      "for i in range(1, 6):\n"
      "    print(i, flush=True)\n"
      "    time.sleep(0.1)\n";
  const CliRun r = cli().run({"run", "-e", code});
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_EQ(r.out, "1\n2\n3\n4\n5\n");

  auto engine = Engine::create(options());
  ASSERT_TRUE(engine) << engine.error().message;
  std::vector<StreamEvent> events;
  auto res = (*engine)->execute_stream(python_request(code),
                                       [&](const StreamEvent& e) { events.push_back(e); });
  ASSERT_TRUE(res) << res.error().message;
  std::string out;
  int pieces = 0;
  for (const auto& e : events) {
    if (e.type == StreamEvent::Type::kStdout) {
      out += e.data;
      ++pieces;
    }
  }
  EXPECT_EQ(out, "1\n2\n3\n4\n5\n");
  EXPECT_GE(pieces, 2) << "the output arrived in one piece: not streamed";
  ASSERT_FALSE(events.empty());
  EXPECT_EQ(events.back().type, StreamEvent::Type::kExit);
  EXPECT_EQ(events.back().data, "0");
}

TEST_P(Output, InterleavedStdoutAndStderrKeepTheirOrderPerStream) {
  auto engine = Engine::create(options());
  ASSERT_TRUE(engine) << engine.error().message;
  std::vector<StreamEvent> events;
  auto res = (*engine)->execute_stream(
      python_request("import sys, time\n"
                     "for i in range(1, 21):\n"
                     "    sys.stdout.write(f'o{i}\\n'); sys.stdout.flush()\n"
                     "    sys.stderr.write(f'e{i}\\n'); sys.stderr.flush()\n"
                     "    if i % 5 == 0: time.sleep(0.05)\n"),
      [&](const StreamEvent& e) { events.push_back(e); });
  ASSERT_TRUE(res) << res.error().message;
  std::string out, err, expected_out, expected_err;
  for (int i = 1; i <= 20; ++i) {
    expected_out += "o" + std::to_string(i) + "\n";
    expected_err += "e" + std::to_string(i) + "\n";
  }
  int exits = 0;
  for (const auto& e : events) {
    if (e.type == StreamEvent::Type::kStdout) out += e.data;
    if (e.type == StreamEvent::Type::kStderr) err += e.data;
    if (e.type == StreamEvent::Type::kExit) ++exits;
  }
  EXPECT_EQ(out, expected_out);
  EXPECT_EQ(err, expected_err);
  EXPECT_EQ(exits, 1);
  EXPECT_EQ(res->stdout_data, rtrim(expected_out));
  EXPECT_EQ(res->stderr_data, rtrim(expected_err));
}

TEST_P(OutputCli, CliSeparatesStdoutAndStderr) {
  const CliRun r =
      cli().run({"run", "-e", "import sys\nprint('to-out')\nprint('to-err', file=sys.stderr)\n"});
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_EQ(r.out, "to-out\n");
  EXPECT_EQ(without_warnings(r.err), "to-err\n");
}

ISOL8_BACKEND_SUITE(Output);
ISOL8_CLI_SUITE(OutputCli);

}  // namespace
}  // namespace isol8::test
