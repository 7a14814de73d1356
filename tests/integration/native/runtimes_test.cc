// The runtimes on the host root: python, node and bash run; bun and deno are not installed on
// this host, so asking for them is a clear error that names the interpreter.

#include "support/test_support.h"

namespace isol8::test {
namespace {

using nlohmann::json;

class NativeRuntimes : public LeakCheckedTest {};

TEST_F(NativeRuntimes, PythonIsTheDefaultForEval) {
  const CliRun r =
      cli().run({"run", "--json", "-e", "import sys; print(sys.version_info.major, 6 * 7)"});
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  const json j = json::parse(r.out, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << r.out;
  EXPECT_EQ(j["stdout"], "3 42");
  EXPECT_EQ(j["runtime"], "python");
}

TEST_F(NativeRuntimes, Node) {
  const CliRun r = cli().run({"run", "--json", "-r", "node", "-e",
                              "console.log(6 * 7, require('os').platform()); "
                              "console.error('node-err')"});
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  const json j = json::parse(r.out, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << r.out;
  EXPECT_EQ(j["stdout"], "42 linux");
  EXPECT_EQ(j["stderr"], "node-err");
  EXPECT_EQ(j["runtime"], "node");
}

TEST_F(NativeRuntimes, Bash) {
  const CliRun r = cli().run(
      {"run", "--json", "-r", "bash", "-e", "echo $((6 * 7)) | tr 0-9 a-j; echo bash-err >&2"});
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  const json j = json::parse(r.out, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << r.out;
  EXPECT_EQ(j["stdout"], "ec");
  EXPECT_EQ(j["stderr"], "bash-err");
  EXPECT_EQ(j["runtime"], "bash");
}

TEST_F(NativeRuntimes, PythonStdlibAndUnicode) {
  const CliRun r = cli().run({"run", "-e",
                              "import json, hashlib\n"
                              "print(json.dumps({'h': hashlib.sha256(b'x').hexdigest()[:8]}))\n"
                              "print('h\\u00e9llo \\u2713')\n"});
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_EQ(r.out, "{\"h\": \"2d711642\"}\nh\xC3\xA9llo \xE2\x9C\x93\n");
}

class NativeMissingRuntimes : public LeakCheckedTest,
                              public ::testing::WithParamInterface<const char*> {};

TEST_P(NativeMissingRuntimes, AreAClearErrorNamingTheInterpreter) {
  const std::string rt = GetParam();
  for (const char* bin : {"/usr/local/bin/", "/usr/bin/", "/bin/"}) {
    if (::access((bin + rt).c_str(), X_OK) == 0) GTEST_SKIP() << rt << " is installed here";
  }
  const CliRun r = cli().run({"run", "-r", rt, "-e", "console.log(1)"});
  EXPECT_EQ(r.exit_code, 1) << describe(r);
  EXPECT_TRUE(r.out.empty()) << describe(r);
  EXPECT_TRUE(without_warnings(r.err).starts_with("[ERR] ")) << describe(r);
  EXPECT_TRUE(contains(r.err, "interpreter \"" + rt + "\"")) << describe(r);
  EXPECT_TRUE(contains(r.err, "not installed")) << describe(r);
}

INSTANTIATE_TEST_SUITE_P(HostRoot, NativeMissingRuntimes, ::testing::Values("bun", "deno"));

TEST_F(NativeRuntimes, UnknownRuntimeIsRejected) {
  const CliRun r = cli().run({"run", "-r", "ruby", "-e", "puts 1"});
  EXPECT_EQ(r.exit_code, 1) << describe(r);
  EXPECT_TRUE(
      contains(r.err, "Unknown runtime: \"ruby\". Available: python, node, bun, deno, bash"))
      << describe(r);
  EXPECT_TRUE(r.out.empty());
}

}  // namespace
}  // namespace isol8::test
