// Broken input the CLI must refuse with a clear error before any sandbox runs (the same on
// every backend): no code, unknown runtimes, code that is not UTF-8, bad flag values. Nothing
// is left behind (LeakCheckedTest).

#include <cstdint>

#include "support/test_support.h"

namespace isol8::test {
namespace {

using nlohmann::json;

class NativeBadInput : public LeakCheckedTest {};

// A clean failure: the CLI exited by itself, did not hang, and said why on stderr.
void expect_clean_error(const CliRun& r) {
  EXPECT_EQ(r.exit_code, 1) << describe(r);
  EXPECT_EQ(r.term_signal, 0) << describe(r);
  EXPECT_FALSE(r.hung) << describe(r);
  EXPECT_TRUE(without_warnings(r.err).starts_with("[ERR] ")) << describe(r);
}

// The CLI says what to do; the library keeps upstream's message (run_preparation_test).
constexpr const char* kNoCode =
    "[ERR] no code to run: give -e, a file, --cmd, or pipe code on stdin\n";

TEST_F(NativeBadInput, EmptyEval) {
  const CliRun r = cli().run({"run", "-e", ""});
  expect_clean_error(r);
  EXPECT_EQ(without_warnings(r.err), kNoCode);
}

TEST_F(NativeBadInput, BlankEval) {
  const CliRun r = cli().run({"run", "-e", "  \n\t "});
  expect_clean_error(r);
  EXPECT_EQ(without_warnings(r.err), kNoCode);
}

TEST_F(NativeBadInput, EmptyCmd) {
  const CliRun r = cli().run({"run", "--cmd", ""});
  expect_clean_error(r);
  EXPECT_EQ(without_warnings(r.err), kNoCode);
}

TEST_F(NativeBadInput, NoCodeAndEmptyStdin) {
  const CliRun r = cli().run({"run"});
  expect_clean_error(r);
  EXPECT_EQ(without_warnings(r.err), kNoCode);
}

TEST_F(NativeBadInput, InvalidUtf8AsPythonCode) {
  const CliRun r = cli().run({"run", "-e", garbage_bytes(1000, /*with_nul=*/false)});
  EXPECT_EQ(r.exit_code, 1) << describe(r);
  EXPECT_EQ(r.term_signal, 0);
  EXPECT_FALSE(r.hung);
  // python3 refuses an argv that is not UTF-8 ("Unable to decode the command ...").
  EXPECT_FALSE(without_warnings(r.err).empty()) << describe(r);
  EXPECT_TRUE(r.out.empty()) << describe(r);
}

TEST_F(NativeBadInput, UnknownRuntime) {
  const CliRun r = cli().run({"run", "-r", "ruby", "-e", "puts 1"});
  expect_clean_error(r);
  EXPECT_TRUE(contains(r.err, "Unknown runtime: \"ruby\"")) << describe(r);
}

// ---- bad flag values

struct BadFlag {
  const char* name;
  std::vector<std::string> args;
  const char* message;  // part of the error
};

// Test names in ctest show the case name instead of the struct's bytes.
void PrintTo(const BadFlag& c, std::ostream* os) { *os << c.name; }

class NativeBadFlags : public LeakCheckedTest, public ::testing::WithParamInterface<BadFlag> {};

TEST_P(NativeBadFlags, AreCleanErrors) {
  std::vector<std::string> args = {"run"};
  args.insert(args.end(), GetParam().args.begin(), GetParam().args.end());
  args.insert(args.end(), {"-e", "print('should not run')"});
  const CliRun r = cli().run(args);
  expect_clean_error(r);
  EXPECT_TRUE(contains(r.err, GetParam().message)) << describe(r);
  EXPECT_FALSE(contains(r.out, "should not run"));
}

INSTANTIATE_TEST_SUITE_P(
    Cases, NativeBadFlags,
    ::testing::Values(BadFlag{"SecretWithoutValue", {"--secret", "NOEQUALS"}, "Invalid --secret"},
                      BadFlag{"SecretWithoutName", {"--secret", "=value"}, "Invalid --secret"},
                      BadFlag{"TimeoutZero", {"--timeout", "0"}, "--timeout"},
                      BadFlag{"TimeoutText", {"--timeout", "soon"}, "--timeout"},
                      BadFlag{"NegativeMaxOutput", {"--max-output", "-5"}, "--max-output"},
                      BadFlag{"BadMemory", {"--memory", "lots"}, "lots"},
                      BadFlag{"BadSandboxSize", {"--sandbox-size", "huge"}, "huge"},
                      BadFlag{"BadBackend", {"--backend", "vm"}, "Invalid --backend"}),
    [](const auto& info) { return info.param.name; });

}  // namespace
}  // namespace isol8::test