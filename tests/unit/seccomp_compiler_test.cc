#include "seccomp/compiler.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "seccomp/policy.h"
#include "seccomp/profile.h"
#include "support/seccomp_profiles.h"

namespace isol8 {
namespace {

std::string pfc_of(const std::string& json) {
  auto pfc = seccomp_profile_pfc(test::profile_or_fail(json));
  EXPECT_TRUE(pfc) << pfc.error().message;
  return pfc ? *pfc : "";
}

bool mentions(const std::string& pfc, const std::string& syscall) {
  return pfc.find("\"" + syscall + "\"") != std::string::npos;
}

TEST(SeccompCompiler, CompilesTheDefaultProfile) {
  auto profile = parse_seccomp_profile(embedded_default_seccomp_profile());
  ASSERT_TRUE(profile) << profile.error().message;
  auto program = compile_seccomp_profile(*profile);
  ASSERT_TRUE(program) << program.error().message;
  EXPECT_GT(program->size(), 10u);
  EXPECT_LE(program->size(), 4096u);
  ASSERT_NE(program->fprog(), nullptr);
  EXPECT_EQ(program->fprog()->len, program->size());
  EXPECT_EQ(program->fprog()->filter, program->instructions().data());
  // Only names newer than this libseccomp may be skipped, never the everyday ones.
  for (const char* name : {"read", "clone", "clone3", "socket", "statx", "rseq", "personality",
                           "epoll_pwait2", "close_range", "faccessat2"}) {
    EXPECT_EQ(std::count(program->skipped().begin(), program->skipped().end(), name), 0) << name;
  }
}

TEST(SeccompCompiler, DefaultProfileShape) {
  auto pfc = seccomp_profile_pfc(*parse_seccomp_profile(embedded_default_seccomp_profile()));
  ASSERT_TRUE(pfc) << pfc.error().message;
  // Only the native ABI: everything else (i386, x32) hits the bad-architecture action.
  EXPECT_NE(pfc->find("# filter for arch x86_64"), std::string::npos) << *pfc;
  EXPECT_EQ(pfc->find("# filter for arch x86 "), std::string::npos) << *pfc;
  EXPECT_EQ(pfc->find("# filter for arch x32"), std::string::npos) << *pfc;
  EXPECT_NE(pfc->find("# invalid architecture action\naction KILL_PROCESS;"), std::string::npos)
      << *pfc;
  EXPECT_NE(pfc->find("action ERRNO(38);"), std::string::npos) << *pfc;  // clone3
  for (const char* denied : {"ptrace",
                             "keyctl",
                             "add_key",
                             "request_key",
                             "bpf",
                             "perf_event_open",
                             "userfaultfd",
                             "io_uring_setup",
                             "mount",
                             "umount2",
                             "pivot_root",
                             "unshare",
                             "setns",
                             "kexec_load",
                             "reboot",
                             "init_module",
                             "process_vm_readv",
                             "settimeofday",
                             "adjtimex",
                             "swapon",
                             "acct"}) {
    EXPECT_FALSE(mentions(*pfc, denied)) << denied;
  }
  for (const char* allowed : {"read", "clone", "clone3", "socket", "execve", "futex", "rseq"}) {
    EXPECT_TRUE(mentions(*pfc, allowed)) << allowed;
  }
}

TEST(SeccompCompiler, UnknownSyscallNamesAreSkipped) {
  auto program = compile_seccomp_profile(test::profile_or_fail(R"({
    "defaultAction": "SCMP_ACT_ERRNO",
    "syscalls": [{"names": ["getpid", "isol8_no_such_syscall", "socketcall", "mmap2"],
                  "action": "SCMP_ACT_ALLOW"}]})"));
  ASSERT_TRUE(program) << program.error().message;
  // socketcall and mmap2 exist on i386 only: not on this filter's architecture.
  EXPECT_EQ(program->skipped(),
            (std::vector<std::string>{"isol8_no_such_syscall", "socketcall", "mmap2"}));
}

TEST(SeccompCompiler, SubArchitecturesOfTheNativeOneAreAdded) {
  const std::string pfc = pfc_of(R"({
    "defaultAction": "SCMP_ACT_ERRNO",
    "archMap": [{"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_X86"]},
                {"architecture": "SCMP_ARCH_AARCH64", "subArchitectures": ["SCMP_ARCH_ARM"]}],
    "syscalls": [{"names": ["getpid", "socketcall"], "action": "SCMP_ACT_ALLOW"}]})");
  EXPECT_NE(pfc.find("# filter for arch x86_64"), std::string::npos) << pfc;
  EXPECT_NE(pfc.find("# filter for arch x86 "), std::string::npos) << pfc;
  EXPECT_EQ(pfc.find("# filter for arch arm"), std::string::npos) << pfc;
  EXPECT_TRUE(mentions(pfc, "socketcall")) << pfc;  // real on i386
}

TEST(SeccompCompiler, IncludesAndExcludes) {
  const std::string pfc = pfc_of(R"({
    "defaultAction": "SCMP_ACT_ERRNO",
    "syscalls": [
      {"names": ["getpid"], "action": "SCMP_ACT_ALLOW", "excludes": {"caps": ["CAP_SYS_ADMIN"]}},
      {"names": ["getppid"], "action": "SCMP_ACT_ALLOW", "includes": {"caps": ["CAP_SYS_ADMIN"]}},
      {"names": ["gettid"], "action": "SCMP_ACT_ALLOW", "includes": {"arches": ["amd64"]}},
      {"names": ["getuid"], "action": "SCMP_ACT_ALLOW", "includes": {"arches": ["arm64"]}},
      {"names": ["getgid"], "action": "SCMP_ACT_ALLOW", "excludes": {"arches": ["amd64"]}},
      {"names": ["geteuid"], "action": "SCMP_ACT_ALLOW", "includes": {"minKernel": "3.0"}},
      {"names": ["getegid"], "action": "SCMP_ACT_ALLOW", "includes": {"minKernel": "999.0"}},
      {"names": ["getpgrp"], "action": "SCMP_ACT_ALLOW", "excludes": {"minKernel": "3.0"}}
    ]})");
  EXPECT_TRUE(mentions(pfc, "getpid")) << "excludes caps: the sandbox has none";
  EXPECT_FALSE(mentions(pfc, "getppid")) << "includes caps: the sandbox has none";
#if defined(__x86_64__)
  EXPECT_TRUE(mentions(pfc, "gettid"));
  EXPECT_FALSE(mentions(pfc, "getuid"));
  EXPECT_FALSE(mentions(pfc, "getgid"));
#endif
  EXPECT_TRUE(mentions(pfc, "geteuid"));
  EXPECT_FALSE(mentions(pfc, "getegid"));
  EXPECT_FALSE(mentions(pfc, "getpgrp"));
}

TEST(SeccompCompiler, RepeatedArgIndexesBecomeSeparateRules) {
  // libseccomp cannot AND two comparisons of one argument; runc (and isol8) OR them instead.
  const std::string pfc = pfc_of(R"({
    "defaultAction": "SCMP_ACT_ERRNO",
    "syscalls": [{"names": ["socket"], "action": "SCMP_ACT_ALLOW", "args": [
      {"index": 0, "value": 1, "op": "SCMP_CMP_EQ"},
      {"index": 0, "value": 2, "op": "SCMP_CMP_EQ"}]}]})");
  EXPECT_TRUE(mentions(pfc, "socket")) << pfc;
}

TEST(SeccompCompiler, RulesEqualToTheDefaultAreSkipped) {
  auto program = compile_seccomp_profile(test::profile_or_fail(R"({
    "defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 1,
    "syscalls": [{"names": ["ptrace"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1},
                 {"names": ["ptrace"], "action": "SCMP_ACT_ERRNO"}]})"));
  ASSERT_TRUE(program) << program.error().message;
}

TEST(SeccompCompiler, ConflictingRulesNameTheRule) {
  auto program = compile_seccomp_profile(test::profile_or_fail(R"({
    "defaultAction": "SCMP_ACT_ERRNO",
    "syscalls": [{"names": ["getpid"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_EQ"}]},
                 {"names": ["getpid"], "action": "SCMP_ACT_KILL_PROCESS", "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_EQ"}]}]})"));
  ASSERT_FALSE(program);
  EXPECT_NE(program.error().message.find("syscalls[1] (getpid): cannot add the rule"),
            std::string::npos)
      << program.error().message;
}

TEST(SeccompCompiler, MovingAProgramKeepsFprogValid) {
  auto program =
      compile_seccomp_profile(test::profile_or_fail(R"({"defaultAction": "SCMP_ACT_ALLOW"})"));
  ASSERT_TRUE(program) << program.error().message;
  SeccompProgram moved(std::move(*program));
  EXPECT_EQ(moved.fprog()->filter, moved.instructions().data());
  EXPECT_EQ(moved.fprog()->len, moved.size());
  std::optional<SeccompProgram> slot;
  slot.emplace(std::move(moved));
  EXPECT_EQ(slot->fprog()->filter, slot->instructions().data());
  EXPECT_GT(slot->fprog()->len, 0u);
}

// Docker-format profiles written for Docker and Podman compile too: the one Debian ships with
// containers-common uses includes/excludes by cap and arch, errno names and i386-only syscalls.
TEST(SeccompCompiler, CompilesThePodmanDefaultProfileWhenPresent) {
  const char* path = "/usr/share/containers/seccomp.json";
  if (!std::filesystem::exists(path)) GTEST_SKIP() << path << " is not installed";
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  auto profile = parse_seccomp_profile(text.str());
  ASSERT_TRUE(profile) << profile.error().message;
  auto program = compile_seccomp_profile(*profile);
  ASSERT_TRUE(program) << program.error().message;
  EXPECT_GT(program->size(), 10u);
}

}  // namespace
}  // namespace isol8
