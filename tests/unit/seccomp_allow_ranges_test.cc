// The allow-range front (seccomp/allow_ranges.h) must decide every syscall exactly as
// libseccomp's program for the whole profile does: compared here on every syscall number of
// every ABI a program can use, with the argument values the profiles' conditions name, by
// interpreting both programs.

#include "seccomp/allow_ranges.h"

#include <gtest/gtest.h>
#include <linux/audit.h>
#include <seccomp.h>

#include <algorithm>
#include <set>
#include <vector>

#include "seccomp/baked_filter.h"
#include "seccomp/compiler.h"
#include "seccomp/policy.h"
#include "seccomp/profile.h"
#include "support/cbpf_eval.h"
#include "support/seccomp_profiles.h"

namespace isol8 {
namespace {

std::vector<sock_filter> compiled(const SeccompProfile& profile, SeccompLayout layout) {
  auto program = compile_seccomp_profile(profile, layout);
  EXPECT_TRUE(program) << program.error().message;
  return program ? program->instructions() : std::vector<sock_filter>{};
}

bool same_code(const std::vector<sock_filter>& a, const std::vector<sock_filter>& b) {
  return a.size() == b.size() &&
         std::equal(a.begin(), a.end(), b.begin(), [](const sock_filter& x, const sock_filter& y) {
           return x.code == y.code && x.jt == y.jt && x.jf == y.jf && x.k == y.k;
         });
}

std::string describe(const seccomp_data& d) {
  std::string out = "arch " + std::to_string(d.arch) + " nr " + std::to_string(d.nr) + " args";
  for (auto arg : d.args) out += " " + std::to_string(arg);
  return out;
}

// Every syscall number of x86_64, x32 (bit 30) and other ABIs, and the edges of the number
// space, with each argument set in turn to values that profiles compare against.
void expect_same_decisions(const std::vector<sock_filter>& expected,
                           const std::vector<sock_filter>& actual) {
  const uint32_t native = seccomp_arch_native();
  std::vector<uint32_t> arches = {
      AUDIT_ARCH_X86_64, AUDIT_ARCH_I386, AUDIT_ARCH_AARCH64, AUDIT_ARCH_RISCV64, 0, 0xffffffffu};
  if (std::find(arches.begin(), arches.end(), native) == arches.end()) arches.push_back(native);
  std::vector<uint32_t> numbers;
  for (uint32_t nr = 0; nr < 1100; ++nr) numbers.push_back(nr);
  for (uint32_t nr = 0x40000000u - 2; nr < 0x40000000u + 600; ++nr) numbers.push_back(nr);
  for (uint32_t nr : {0x7fffffffu, 0x80000000u, 0xfffffffeu, 0xffffffffu}) numbers.push_back(nr);
  const std::vector<uint64_t> values = {0,          1,          2,           8,           10,
                                        16,         17,         0x10000,     0x20000,     0x20008,
                                        0x7e020000, 0xffffffff, 0x100000000, ~uint64_t{0}};
  size_t compared = 0;
  for (uint32_t arch : arches) {
    for (uint32_t nr : numbers) {
      seccomp_data data{};
      data.arch = arch;
      data.nr = static_cast<int>(nr);
      std::vector<seccomp_data> cases = {data};
      if (arch == native && nr < 1100) {
        for (size_t index = 0; index < 6; ++index) {
          for (uint64_t value : values) {
            seccomp_data with = data;
            with.args[index] = value;
            cases.push_back(with);
          }
        }
      }
      for (const seccomp_data& c : cases) {
        auto want = test::run_seccomp_bpf(expected, c);
        auto got = test::run_seccomp_bpf(actual, c);
        ASSERT_TRUE(std::holds_alternative<uint32_t>(want)) << std::get<std::string>(want);
        ASSERT_TRUE(std::holds_alternative<uint32_t>(got)) << std::get<std::string>(got);
        ASSERT_EQ(std::get<uint32_t>(want), std::get<uint32_t>(got)) << describe(c);
        ++compared;
      }
    }
  }
  EXPECT_GT(compared, 100000u);
}

TEST(SeccompAllowRanges, TheDefaultProfileDecidesAsLibseccompAloneWithAThirdOfTheCode) {
  const auto profile = test::profile_or_fail(std::string(embedded_default_seccomp_profile()));
  const auto whole = compiled(profile, SeccompLayout::kLibseccompOnly);
  const auto ranged = compiled(profile, SeccompLayout::kAllowRanges);
  ASSERT_FALSE(whole.empty());
  EXPECT_LT(ranged.size() * 2, whole.size()) << ranged.size() << " against " << whole.size();
  expect_same_decisions(whole, ranged);
}

TEST(SeccompAllowRanges, TheBakedDefaultFilterIsTheRangedOne) {
  const auto ranged =
      compiled(test::profile_or_fail(std::string(embedded_default_seccomp_profile())),
               SeccompLayout::kAllowRanges);
  const auto baked = baked_default_filter();
  EXPECT_TRUE(same_code({baked.begin(), baked.end()}, ranged)) << baked.size() << " instructions";
}

TEST(SeccompAllowRanges, ASyscallWithAConditionOrAnotherActionStaysWithLibseccomp) {
  const auto profile = test::profile_or_fail(R"({
    "defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 1,
    "syscalls": [
      {"names": ["getpid"], "action": "SCMP_ACT_ERRNO", "errnoRet": 5},
      {"names": ["read", "write", "close", "getpid", "getppid", "socket", "kill"],
       "action": "SCMP_ACT_ALLOW"},
      {"names": ["socket"], "action": "SCMP_ACT_ERRNO", "errnoRet": 97,
       "args": [{"index": 0, "value": 16, "op": "SCMP_CMP_EQ"}]},
      {"names": ["getppid"], "action": "SCMP_ACT_KILL_PROCESS",
       "args": [{"index": 1, "value": 8, "op": "SCMP_CMP_GE"}]},
      {"names": ["kill"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1},
      {"names": ["openat", "mmap"], "action": "SCMP_ACT_TRAP"}]})");
  const auto whole = compiled(profile, SeccompLayout::kLibseccompOnly);
  const auto ranged = compiled(profile, SeccompLayout::kAllowRanges);
  EXPECT_FALSE(same_code(whole, ranged)) << "the front should apply";
  expect_same_decisions(whole, ranged);
}

TEST(SeccompAllowRanges, OtherDefaultsAndRestsDecideAsLibseccompAlone) {
  for (const char* json :
       {// Every rule a plain allow: libseccomp's part has no rule left.
        R"({"defaultAction": "SCMP_ACT_KILL_PROCESS",
               "syscalls": [{"names": ["read", "write", "exit", "exit_group"],
                             "action": "SCMP_ACT_ALLOW"}]})",
        // A rule whose action is the default's is skipped, the plain allow stands.
        R"({"defaultAction": "SCMP_ACT_LOG",
               "syscalls": [{"names": ["getpid", "gettid"], "action": "SCMP_ACT_ALLOW"},
                            {"names": ["getpid"], "action": "SCMP_ACT_LOG"},
                            {"names": ["ptrace"], "action": "SCMP_ACT_KILL_THREAD"}]})",
        // A name listed twice, and names that this architecture does not have.
        R"({"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 38,
               "syscalls": [{"names": ["read", "read", "socketcall", "no_such_call", "close"],
                             "action": "SCMP_ACT_ALLOW"},
                            {"names": ["close"], "action": "SCMP_ACT_ALLOW"}]})"}) {
    const auto profile = test::profile_or_fail(json);
    const auto whole = compiled(profile, SeccompLayout::kLibseccompOnly);
    const auto ranged = compiled(profile, SeccompLayout::kAllowRanges);
    EXPECT_FALSE(same_code(whole, ranged)) << "the front should apply: " << json;
    expect_same_decisions(whole, ranged);
  }
}

TEST(SeccompAllowRanges, NotUsedWithOtherAbisOrAnAllowDefault) {
  for (const char* json : {
           R"({"defaultAction": "SCMP_ACT_ERRNO",
               "archMap": [{"architecture": "SCMP_ARCH_X86_64",
                            "subArchitectures": ["SCMP_ARCH_X86", "SCMP_ARCH_X32"]}],
               "syscalls": [{"names": ["read", "write", "exit"], "action": "SCMP_ACT_ALLOW"}]})",
           R"({"defaultAction": "SCMP_ACT_ALLOW",
               "syscalls": [{"names": ["ptrace"], "action": "SCMP_ACT_ERRNO"},
                            {"names": ["read"], "action": "SCMP_ACT_ALLOW"}]})"}) {
    const auto profile = test::profile_or_fail(json);
    EXPECT_TRUE(same_code(compiled(profile, SeccompLayout::kLibseccompOnly),
                          compiled(profile, SeccompLayout::kAllowRanges)))
        << json;
  }
}

TEST(SeccompAllowRanges, TooManyRangesForBpfJumpsFallBackToLibseccomp) {
  // Every other syscall: over 200 ranges, more than an 8-bit jump can skip.
  std::string names;
  for (int nr = 0; nr < 450; nr += 2) {
    char* name = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, nr);
    if (name == nullptr) continue;
    names += std::string(names.empty() ? "" : ", ") + "\"" + name + "\"";
    free(name);
  }
  const auto profile =
      test::profile_or_fail(R"({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": [)" +
                            names + R"(], "action": "SCMP_ACT_ALLOW"}]})");
  EXPECT_TRUE(same_code(compiled(profile, SeccompLayout::kLibseccompOnly),
                        compiled(profile, SeccompLayout::kAllowRanges)));
}

TEST(SeccompAllowRanges, TheFrontAllowsExactlyItsNumbersAndPassesTheRestOn) {
  const std::set<uint32_t> allowed = {0, 1, 2, 5, 7, 8, 9, 100, 254, 255, 256, 0x40000001};
  const sock_filter rest[] = {{BPF_RET | BPF_K, 0, 0, SECCOMP_RET_KILL_PROCESS}};
  auto program = with_allow_ranges(AUDIT_ARCH_X86_64, {allowed.begin(), allowed.end()}, rest);
  ASSERT_TRUE(program);
  for (uint32_t arch : {uint32_t{AUDIT_ARCH_X86_64}, uint32_t{AUDIT_ARCH_I386}}) {
    for (uint32_t nr = 0; nr < 300; ++nr) {
      for (uint32_t high : {0u, 0x40000000u, 0x80000000u}) {
        seccomp_data data{};
        data.arch = arch;
        data.nr = static_cast<int>(nr | high);
        auto got = test::run_seccomp_bpf(*program, data);
        ASSERT_TRUE(std::holds_alternative<uint32_t>(got)) << std::get<std::string>(got);
        const bool allow = arch == AUDIT_ARCH_X86_64 && high == 0 && allowed.count(nr) != 0;
        EXPECT_EQ(std::get<uint32_t>(got), allow ? SECCOMP_RET_ALLOW : SECCOMP_RET_KILL_PROCESS)
            << describe(data);
      }
    }
  }
  EXPECT_FALSE(with_allow_ranges(AUDIT_ARCH_X86_64, {}, rest));
  EXPECT_FALSE(with_allow_ranges(AUDIT_ARCH_X86_64, {0x40000000}, rest));
}

}  // namespace
}  // namespace isol8
