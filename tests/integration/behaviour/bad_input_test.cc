// Hostile or broken input must end in a clean result or a clear error: no crash, no hang, no
// unbounded memory, and nothing left behind (LeakCheckedTest counts the sandbox's host processes
// and the host's mounts before and after every test).

#include <cstdint>

#include "support/test_support.h"

namespace isol8::test {
namespace {

using nlohmann::json;

// The cases that reach a sandbox: on every backend.
class BadInput : public CliBackendTest {};

TEST_P(BadInput, BinaryGarbageAsPythonCode) {
  const CliRun r = cli().run({"run"}, garbage_bytes(64 * 1024, /*with_nul=*/true));
  EXPECT_EQ(r.exit_code, 1) << describe(r);
  EXPECT_EQ(r.term_signal, 0);
  EXPECT_FALSE(r.hung);
  if (is_remote()) {
    // Upstream's wire carries code as JSON text: the client refuses before sending, and says so.
    EXPECT_TRUE(contains(r.err, "[ERR] The code is not UTF-8 text, which a remote run cannot send"))
        << describe(r);
  } else {
    EXPECT_TRUE(contains(r.err, "SyntaxError")) << describe(r);
  }
}

TEST_P(BadInput, BinaryGarbageAsBashAndNodeCode) {
  for (const char* rt : {"bash", "node"}) {
    const CliRun r = cli().run({"run", "-r", rt}, garbage_bytes(16 * 1024, /*with_nul=*/true));
    EXPECT_NE(r.exit_code, 0) << rt << " " << describe(r);
    EXPECT_LT(r.exit_code, 128) << rt << " " << describe(r);
    EXPECT_EQ(r.term_signal, 0) << rt;
    EXPECT_FALSE(r.hung) << rt;
  }
}

// 10 MB of code cannot go through argv (the kernel caps one argument at 128 KiB: execve fails
// with E2BIG before isol8 runs), so it comes from stdin and from a file.
std::string big_python(size_t target) {
  std::string code;
  code.reserve(target + 64);
  const std::string line = "# " + std::string(97, 'p') + "\n";
  while (code.size() < target) code += line;
  code += "print('big-ok', len(open(__file__).read()) if '__file__' in globals() else 0)\n";
  return code;
}

TEST_P(BadInput, TenMegabytesOfCodeFromStdin) {
  const std::string code = big_python(10 * 1024 * 1024);
  const CliRun r = cli().run({"run"}, code);
  EXPECT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_EQ(r.out, "big-ok " + std::to_string(code.size()) + "\n");
}

TEST_P(BadInput, TenMegabytesOfCodeFromAFile) {
  const std::string code = big_python(10 * 1024 * 1024);
  const std::string path = cli().dir().file("big.py");
  ASSERT_TRUE(spit(path, code));
  const CliRun r = cli().run({"run", path});
  EXPECT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_EQ(r.out, "big-ok " + std::to_string(code.size()) + "\n");
}

TEST_P(BadInput, LargestEvalArgumentWorks) {
  // Just under the kernel's 128 KiB per-argument limit, and over the engine's 64 KiB inline limit
  // (so the code goes through a file in /sandbox).
  const std::string code = big_python(120 * 1024);
  const CliRun r = cli().run({"run", "-e", code});
  ASSERT_EQ(r.spawn_error, 0);
  EXPECT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_EQ(r.out, "big-ok " + std::to_string(code.size()) + "\n");
}

TEST_P(BadInput, NulBytesInOutputKeepJsonValid) {
  const CliRun r = cli().run(
      {"run", "--json", "-e",
       "import sys; sys.stdout.buffer.write(b'a\\0b'); sys.stderr.buffer.write(b'\\0\\0')"});
  EXPECT_EQ(r.exit_code, 0) << describe(r);
  const json j = json::parse(r.out, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << "not JSON: " << r.out;
  EXPECT_EQ(j["stdout"].get<std::string>(), std::string("a\0b", 3));
}

// ---- floods

class Flood : public CliBackendCaseTest<const char* /*mode*/> {};

TEST_P(Flood, HundredMegabytesAreTruncatedWithBoundedMemory) {
  const std::string mode = param();
  std::vector<std::string> args = {"run", "--cmd", "yes | head -c 100000000; echo done >&2"};
  if (mode != "stream") args.push_back("--" + mode);
  const CliRun r = cli().run(args);
  EXPECT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_FALSE(r.hung);
  std::string out = r.out;
  if (mode == "json") {
    const json j = json::parse(r.out, nullptr, false);
    ASSERT_FALSE(j.is_discarded()) << r.out.substr(0, 200);
    EXPECT_EQ(j["truncated"], true);
    EXPECT_EQ(j["stderr"], "done");
    out = j["stdout"].get<std::string>();
  } else {
    EXPECT_TRUE(contains(r.err, "done")) << describe(r);
  }
  EXPECT_TRUE(contains(out, "--- OUTPUT TRUNCATED (100000000 bytes, limit: 1048576) ---"))
      << out.substr(out.size() > 200 ? out.size() - 200 : 0);
  EXPECT_LE(out.size(), 1048576u + 100);
  // The CLI keeps at most the cap per stream; 100 MB would show here if it buffered the flood.
  std::cout << "[ measured ] " << mode << " flood: CLI peak RSS " << r.max_rss_kb << " KiB\n";
  EXPECT_LT(r.max_rss_kb, 64 * 1024) << "peak RSS of the CLI in KiB";
}

std::string mode_name(const char* mode) {
  std::string n = mode;
  n.erase(std::remove(n.begin(), n.end(), '-'), n.end());
  return n;
}

ISOL8_CLI_CASES(Modes, Flood, ::testing::Values("stream", "no-stream", "json"), mode_name);

TEST_P(BadInput, StderrFloodIsTruncatedToo) {
  const CliRun r = cli().run({"run", "--json", "--cmd", "yes | head -c 50000000 >&2"});
  EXPECT_EQ(r.exit_code, 0) << describe(r);
  const json j = json::parse(r.out, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << r.out.substr(0, 200);
  EXPECT_EQ(j["truncated"], true);
  EXPECT_LE(j["stderr"].get<std::string>().size(), 1048576u + 100);
  EXPECT_LT(r.max_rss_kb, 64 * 1024);
}

TEST_P(BadInput, FillingTheSandboxTmpfsFailsInside) {
  const CliRun r = cli().run({"run", "--sandbox-size", "8m", "--cmd",
                              "head -c 20000000 /dev/zero > /sandbox/fill; echo rc=$?"});
  EXPECT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_TRUE(contains(r.err, "No space left on device")) << describe(r);
  EXPECT_EQ(r.out, "rc=1\n");
}

// ---- stdin edge cases

TEST_P(BadInput, LargeStdinDataIsDeliveredWhole) {
  const std::string data(120 * 1024, 's');  // more than a pipe buffer
  const CliRun r =
      cli().run({"run", "--stdin", data, "-e", "import sys; print(len(sys.stdin.read()))"});
  EXPECT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_EQ(r.out, std::to_string(data.size()) + "\n");
}

TEST_P(BadInput, StdinDataTheProgramNeverReads) {
  const std::string data(120 * 1024, 's');
  const CliRun r = cli().run({"run", "--stdin", data, "--cmd", "echo ignored-stdin; exit 4"});
  EXPECT_EQ(r.exit_code, 4) << describe(r);
  EXPECT_EQ(r.out, "ignored-stdin\n");
  EXPECT_EQ(r.term_signal, 0) << "SIGPIPE reached the CLI";
  EXPECT_FALSE(r.hung);
}

ISOL8_CLI_SUITE(BadInput);

}  // namespace
}  // namespace isol8::test