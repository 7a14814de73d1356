#include "seccomp/profile.h"
#include "support/cli.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

namespace isol8 {
namespace {

TEST(SeccompProfile, ParsesADockerFormatProfile) {
  auto profile = parse_seccomp_profile(R"({
    "defaultAction": "SCMP_ACT_ERRNO",
    "defaultErrnoRet": 1,
    "archMap": [{"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_X86"]}],
    "flags": ["SECCOMP_FILTER_FLAG_SPEC_ALLOW"],
    "unknownKey": {"is": "ignored"},
    "syscalls": [
      {"names": ["read", "write"], "action": "SCMP_ACT_ALLOW", "comment": "io"},
      {"names": ["clone"], "action": "SCMP_ACT_ALLOW",
       "args": [{"index": 0, "value": 2114060288, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}],
       "excludes": {"caps": ["CAP_SYS_ADMIN"]}},
      {"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38},
      {"names": ["ptrace"], "action": "SCMP_ACT_ERRNO", "errno": "EACCES",
       "includes": {"arches": ["amd64"], "minKernel": "4.8"}},
      {"name": "personality", "action": "SCMP_ACT_ALLOW",
       "args": [{"index": 0, "value": 4294967295, "op": "SCMP_CMP_EQ"}]},
      {"names": ["kill"], "action": "SCMP_ACT_KILL_PROCESS", "args": null}
    ]
  })");
  ASSERT_TRUE(profile) << profile.error().message;
  EXPECT_EQ(profile->default_action, SeccompAction::kErrno);
  EXPECT_EQ(profile->default_errno_ret, 1u);
  ASSERT_EQ(profile->arch_map.size(), 1u);
  EXPECT_EQ(profile->arch_map[0].architecture, "SCMP_ARCH_X86_64");
  EXPECT_EQ(profile->arch_map[0].sub_architectures, std::vector<std::string>{"SCMP_ARCH_X86"});
  EXPECT_EQ(profile->flags, std::vector<std::string>{"SECCOMP_FILTER_FLAG_SPEC_ALLOW"});
  ASSERT_EQ(profile->syscalls.size(), 6u);

  const auto& io = profile->syscalls[0];
  EXPECT_EQ(io.names, (std::vector<std::string>{"read", "write"}));
  EXPECT_EQ(io.action, SeccompAction::kAllow);
  EXPECT_FALSE(io.errno_ret);
  EXPECT_EQ(io.comment, "io");

  const auto& clone = profile->syscalls[1];
  ASSERT_EQ(clone.args.size(), 1u);
  EXPECT_EQ(clone.args[0].index, 0u);
  EXPECT_EQ(clone.args[0].value, 2114060288u);
  EXPECT_EQ(clone.args[0].value_two, 0u);
  EXPECT_EQ(clone.args[0].op, SeccompCompare::kMaskedEqual);
  EXPECT_EQ(clone.excludes.caps, std::vector<std::string>{"CAP_SYS_ADMIN"});

  EXPECT_EQ(profile->syscalls[2].action, SeccompAction::kErrno);
  EXPECT_EQ(profile->syscalls[2].errno_ret, 38u);

  const auto& ptrace = profile->syscalls[3];
  EXPECT_EQ(ptrace.errno_ret, 13u);  // "EACCES" by name
  EXPECT_EQ(ptrace.includes.arches, std::vector<std::string>{"amd64"});
  EXPECT_EQ(ptrace.includes.min_kernel, "4.8");

  const auto& personality = profile->syscalls[4];
  EXPECT_EQ(personality.names, std::vector<std::string>{"personality"});
  ASSERT_EQ(personality.args.size(), 1u);
  EXPECT_EQ(personality.args[0].value, 4294967295u);
  EXPECT_EQ(personality.args[0].op, SeccompCompare::kEqual);

  EXPECT_EQ(profile->syscalls[5].action, SeccompAction::kKillProcess);
  EXPECT_TRUE(profile->syscalls[5].args.empty());
}

TEST(SeccompProfile, ParsesEveryActionAndOperator) {
  auto profile = parse_seccomp_profile(R"({
    "defaultAction": "SCMP_ACT_ALLOW",
    "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X32"],
    "syscalls": [
      {"names": ["a"], "action": "SCMP_ACT_KILL"},
      {"names": ["b"], "action": "SCMP_ACT_KILL_THREAD"},
      {"names": ["c"], "action": "SCMP_ACT_TRAP"},
      {"names": ["d"], "action": "SCMP_ACT_TRACE", "errnoRet": 4242},
      {"names": ["e"], "action": "SCMP_ACT_LOG",
       "args": [{"index": 1, "value": 1, "op": "SCMP_CMP_NE"},
                {"index": 2, "value": 1, "op": "SCMP_CMP_LT"},
                {"index": 3, "value": 1, "op": "SCMP_CMP_LE"},
                {"index": 4, "value": 1, "op": "SCMP_CMP_GE"},
                {"index": 5, "value": 1, "op": "SCMP_CMP_GT"}]}
    ]
  })");
  ASSERT_TRUE(profile) << profile.error().message;
  EXPECT_EQ(profile->default_action, SeccompAction::kAllow);
  EXPECT_EQ(profile->architectures,
            (std::vector<std::string>{"SCMP_ARCH_X86_64", "SCMP_ARCH_X32"}));
  EXPECT_EQ(profile->syscalls[0].action, SeccompAction::kKillThread);
  EXPECT_EQ(profile->syscalls[1].action, SeccompAction::kKillThread);
  EXPECT_EQ(profile->syscalls[2].action, SeccompAction::kTrap);
  EXPECT_EQ(profile->syscalls[3].action, SeccompAction::kTrace);
  EXPECT_EQ(profile->syscalls[3].errno_ret, 4242u);
  EXPECT_EQ(profile->syscalls[4].action, SeccompAction::kLog);
  const auto& args = profile->syscalls[4].args;
  ASSERT_EQ(args.size(), 5u);
  EXPECT_EQ(args[0].op, SeccompCompare::kNotEqual);
  EXPECT_EQ(args[1].op, SeccompCompare::kLessThan);
  EXPECT_EQ(args[2].op, SeccompCompare::kLessEqual);
  EXPECT_EQ(args[3].op, SeccompCompare::kGreaterEqual);
  EXPECT_EQ(args[4].op, SeccompCompare::kGreaterThan);
  EXPECT_EQ(args[4].index, 5u);
}

// The message of the error parsing `json` gives, or "" when it parses.
std::string parse_error(const std::string& json) {
  auto profile = parse_seccomp_profile(json);
  return profile ? "" : profile.error().message;
}

TEST(SeccompProfile, UnknownActionNamesTheRule) {
  EXPECT_EQ(parse_error(R"({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [
              {"names": ["read"], "action": "SCMP_ACT_ALLOW"},
              {"names": ["ptrace"], "action": "SCMP_ACT_FOO"}]})"),
            "syscalls[1] (ptrace): unknown action \"SCMP_ACT_FOO\"");
  EXPECT_EQ(parse_error(R"({"defaultAction": "SCMP_ACT_NOPE"})"),
            "defaultAction: unknown action \"SCMP_ACT_NOPE\"");
  EXPECT_EQ(parse_error(R"({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [
              {"names": ["a", "b", "c"], "action": "SCMP_ACT_NOTIFY"}]})"),
            "syscalls[0] (a, b, ...): SCMP_ACT_NOTIFY is not supported (isol8 runs no seccomp "
            "agent)");
}

TEST(SeccompProfile, UnknownOperatorNamesTheRuleAndArg) {
  EXPECT_EQ(parse_error(R"({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [
              {"names": ["socket", "bind"], "action": "SCMP_ACT_ALLOW",
               "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_EQ"},
                        {"index": 1, "value": 1, "op": "SCMP_CMP_SORTA"}]}]})"),
            "syscalls[0] (socket, bind): args[1]: unknown operator \"SCMP_CMP_SORTA\"");
}

TEST(SeccompProfile, BadJsonIsAnError) {
  EXPECT_EQ(parse_error("{\"defaultAction\": "), "invalid JSON");
  EXPECT_EQ(parse_error(""), "invalid JSON");
  EXPECT_EQ(parse_error("[1, 2]"), "the profile must be a JSON object");
}

TEST(SeccompProfile, ShapeErrorsAreClear) {
  EXPECT_EQ(parse_error("{}"), "defaultAction is missing");
  EXPECT_EQ(parse_error(R"({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": {}})"),
            "syscalls must be an array");
  EXPECT_EQ(parse_error(R"({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [
              {"names": "read", "action": "SCMP_ACT_ALLOW"}]})"),
            "syscalls[0].names must be an array of strings");
  EXPECT_EQ(parse_error(R"({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [
              {"names": [], "action": "SCMP_ACT_ALLOW"}]})"),
            "syscalls[0]: no syscall names");
  EXPECT_EQ(parse_error(R"({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [
              {"names": ["read"]}]})"),
            "syscalls[0] (read): no action");
  EXPECT_EQ(parse_error(R"({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [
              {"names": ["read"], "action": "SCMP_ACT_ALLOW", "errnoRet": 1}]})"),
            "syscalls[0] (read): errnoRet is only valid with SCMP_ACT_ERRNO or SCMP_ACT_TRACE");
  EXPECT_EQ(parse_error(R"({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [
              {"names": ["read"], "action": "SCMP_ACT_ERRNO", "errnoRet": 5000}]})"),
            "syscalls[0] (read).errnoRet must be at most 4095");
  EXPECT_EQ(parse_error(R"({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [
              {"names": ["read"], "action": "SCMP_ACT_ERRNO", "errno": "EWHATEVER"}]})"),
            "syscalls[0] (read).errno: unknown errno \"EWHATEVER\"");
  EXPECT_EQ(parse_error(R"({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [
              {"names": ["read"], "action": "SCMP_ACT_ALLOW",
               "args": [{"index": 6, "value": 1, "op": "SCMP_CMP_EQ"}]}]})"),
            "syscalls[0] (read): args[0].index must be between 0 and 5");
  EXPECT_EQ(parse_error(R"({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [
              {"names": ["read"], "action": "SCMP_ACT_ALLOW",
               "args": [{"index": 0, "value": -1, "op": "SCMP_CMP_EQ"}]}]})"),
            "syscalls[0] (read): args[0].value must be a non-negative integer");
  EXPECT_EQ(parse_error(R"({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [
              {"names": ["read"], "action": "SCMP_ACT_ALLOW",
               "includes": {"minKernel": "five"}}]})"),
            "syscalls[0] (read).includes.minKernel: \"five\" is not \"major.minor\"");
}

TEST(SeccompProfile, UnknownArchitecturesAndFlagsAreErrors) {
  EXPECT_EQ(parse_error(R"({"defaultAction": "SCMP_ACT_ERRNO",
              "architectures": ["SCMP_ARCH_Z80"]})"),
            "architectures[0]: unknown architecture \"SCMP_ARCH_Z80\"");
  EXPECT_EQ(parse_error(R"({"defaultAction": "SCMP_ACT_ERRNO", "archMap": [
              {"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_Z80"]}]})"),
            "archMap[0].subArchitectures: unknown architecture \"SCMP_ARCH_Z80\"");
  EXPECT_EQ(parse_error(R"({"defaultAction": "SCMP_ACT_ERRNO", "flags": ["FLAG_FAST"]})"),
            "flags: unknown flag \"FLAG_FAST\"");
  EXPECT_EQ(parse_error(R"({"defaultAction": "SCMP_ACT_ERRNO", "listenerPath": "/run/x.sock"})"),
            "listenerPath is not supported (isol8 runs no seccomp agent)");
}

TEST(SeccompProfile, UnknownSyscallNamesParse) {
  // Names are looked up by the compiler, which skips the ones this kernel does not have.
  auto profile = parse_seccomp_profile(R"({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [
      {"names": ["read", "isol8_no_such_syscall"], "action": "SCMP_ACT_ALLOW"}]})");
  ASSERT_TRUE(profile) << profile.error().message;
  EXPECT_EQ(profile->syscalls[0].names[1], "isol8_no_such_syscall");
}

TEST(SeccompProfile, DefaultErrnoByName) {
  auto profile =
      parse_seccomp_profile(R"({"defaultAction": "SCMP_ACT_ERRNO", "defaultErrno": "ENOSYS"})");
  ASSERT_TRUE(profile) << profile.error().message;
  EXPECT_EQ(profile->default_errno_ret, 38u);
}

TEST(SeccompProfile, ParsesTheRepositoryDefaultProfile) {
  std::ifstream in(std::string(::isol8::test::kSourceDir) + "/profiles/default.json");
  ASSERT_TRUE(in);
  std::stringstream text;
  text << in.rdbuf();
  auto profile = parse_seccomp_profile(text.str());
  ASSERT_TRUE(profile) << profile.error().message;
  EXPECT_EQ(profile->default_action, SeccompAction::kErrno);
  EXPECT_EQ(profile->default_errno_ret, 1u);
  ASSERT_EQ(profile->arch_map.size(), 1u);
  EXPECT_EQ(profile->arch_map[0].architecture, "SCMP_ARCH_X86_64");
  EXPECT_TRUE(profile->arch_map[0].sub_architectures.empty());
  EXPECT_TRUE(profile->architectures.empty());
}

}  // namespace
}  // namespace isol8
