// Who the program is inside the sandbox, seen from inside (the probe) and from the host (/proc):
// ids and the id map, capabilities, no_new_privs, the pid namespace, hostname and environment.

#include <signal.h>
#include <stdlib.h>

#include <array>
#include <set>
#include <sstream>

#include <linux/securebits.h>

#include "support/test_support.h"

namespace isol8::test {
namespace {

using nlohmann::json;

class NativeIdentity : public NativeTest {};

// "inside outside count" lines of /proc/<pid>/uid_map.
std::vector<std::array<uint64_t, 3>> parse_id_map(const std::string& text) {
  std::vector<std::array<uint64_t, 3>> out;
  std::istringstream in(text);
  std::array<uint64_t, 3> row{};
  while (in >> row[0] >> row[1] >> row[2]) out.push_back(row);
  return out;
}

TEST_F(NativeIdentity, ProgramRunsAsUid100Gid101) {
  auto p = run_probe(Options{});
  ASSERT_TRUE(p.ok()) << p.error;
  EXPECT_EQ(p.report["uid"], kSandboxUid);
  EXPECT_EQ(p.report["euid"], kSandboxUid);
  EXPECT_EQ(p.report["gid"], kSandboxGid);
  EXPECT_EQ(p.report["egid"], kSandboxGid);
}

TEST_F(NativeIdentity, IdMapSendsSandboxRootToTheDefaultBase) {
  if (!privileged_id_map()) GTEST_SKIP() << "the 0 -> 1000000 map is the root (privileged) mode";
  auto p = run_probe(Options{});
  ASSERT_TRUE(p.ok()) << p.error;
  for (const char* key : {"uidMap", "gidMap"}) {
    const auto rows = parse_id_map(p.report[key].get<std::string>());
    ASSERT_EQ(rows.size(), 1u) << key << ": " << p.report[key];
    EXPECT_EQ(rows[0][0], 0u) << key;
    EXPECT_EQ(rows[0][1], kDefaultIdMapBase) << key;
    EXPECT_EQ(rows[0][2], 65536u) << key;
    // So the sandbox user (100 / 101) is host id 1000100 / 1000101, never 0.
    EXPECT_LE(rows[0][0], kSandboxUid);
    EXPECT_GT(rows[0][0] + rows[0][2], kSandboxGid);
  }
}

TEST_F(NativeIdentity, IdMapBaseOptionMovesTheRange) {
  if (!privileged_id_map()) GTEST_SKIP() << "id_map_base applies to the root (privileged) mode";
  Options o;
  o.native.id_map_base = unique_id_map_base();
  auto p = run_probe(o);
  ASSERT_TRUE(p.ok()) << p.error;
  const auto rows = parse_id_map(p.report["uidMap"].get<std::string>());
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0][1], o.native.id_map_base);
}

// From the host: the sandboxed `sleep` is a process whose real uid is 1000100, in a pid
// namespace of its own.
TEST_F(NativeIdentity, HostSeesTheProgramAsUid1000100) {
  if (!privileged_id_map()) GTEST_SKIP() << "host uid 1000100 is the root (privileged) mode";
  IsolatedCli cli;  // default config: idMapBase 1000000
  const std::string token = "77." + std::to_string(::getpid());
  CliProcess proc({"run", "--cmd", "sleep " + token}, cli.options());
  ASSERT_TRUE(proc.started());
  const auto pid = wait_for_process({"sleep", token}, std::chrono::seconds(20));
  ASSERT_TRUE(pid.has_value()) << "the sandboxed sleep never appeared in /proc";
  const long uid = host_real_uid(*pid);
  EXPECT_EQ(uid, kDefaultIdMapBase + kSandboxUid);
  EXPECT_NE(uid, 0);
  // NSpid lists one pid per pid namespace level: the host's and the sandbox's.
  std::istringstream nspid(status_field(*pid, "NSpid"));
  std::vector<long> levels;
  for (long v; nspid >> v;) levels.push_back(v);
  ASSERT_EQ(levels.size(), 2u) << "NSpid: " << status_field(*pid, "NSpid");
  EXPECT_LE(levels[1], 2) << "the program is pid 1 or pid 1's first child inside";
  proc.signal(SIGTERM);
  const CliRun r = proc.wait();
  EXPECT_EQ(r.exit_code, 143) << describe(r);
  EXPECT_NE(host_real_uid(*pid), uid) << "the sandboxed sleep outlived the CLI";
}

TEST_F(NativeIdentity, AllCapabilitySetsAreEmptyAndNoNewPrivsIsSet) {
  auto p = run_probe(Options{});
  ASSERT_TRUE(p.ok()) << p.error;
  const json& caps = p.report["capabilities"];
  for (const char* set : {"inheritable", "permitted", "effective", "bounding", "ambient"}) {
    EXPECT_EQ(caps[set], "0000000000000000") << set;
  }
  EXPECT_EQ(p.report["noNewPrivs"], "1");
}

TEST_F(NativeIdentity, SecurebitsAreSetAndLocked) {
  auto p = run_probe(Options{});
  ASSERT_TRUE(p.ok()) << p.error;
  const int bits = p.report["securebits"].get<int>();
  // Root gains nothing, setuid keeps no capabilities, ambient capabilities cannot be raised, and
  // each of these is locked, as is keep-caps (off).
  for (int bit :
       {SECBIT_NOROOT, SECBIT_NOROOT_LOCKED, SECBIT_NO_SETUID_FIXUP, SECBIT_NO_SETUID_FIXUP_LOCKED,
        SECBIT_KEEP_CAPS_LOCKED, SECBIT_NO_CAP_AMBIENT_RAISE, SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED}) {
    EXPECT_NE(bits & bit, 0) << "securebit " << bit << " missing in " << bits;
  }
  EXPECT_EQ(bits & SECBIT_KEEP_CAPS, 0);
}

TEST_F(NativeIdentity, ProgramIsPid1OrItsChild) {
  auto p = run_probe(Options{}, {}, ProbeVia::kPython);
  ASSERT_TRUE(p.ok()) << p.error;
  const int pid = p.report["pid"].get<int>();
  const int ppid = p.report["ppid"].get<int>();
  EXPECT_TRUE(pid == 1 || ppid == 1) << "pid " << pid << " ppid " << ppid;
  // Inside a fresh pid namespace the numbers are tiny; on the host they would not be.
  EXPECT_LE(pid, 10);
}

TEST_F(NativeIdentity, HostnameIsIsol8) {
  auto p = run_probe(Options{});
  ASSERT_TRUE(p.ok()) << p.error;
  EXPECT_EQ(p.report["hostname"], "isol8");
}

TEST_F(NativeIdentity, WorkingDirectoryIsSandbox) {
  auto p = run_probe(Options{});
  ASSERT_TRUE(p.ok()) << p.error;
  EXPECT_EQ(p.report["cwd"], "/sandbox");
}

class NativeEnvironment : public NativeTest {
 protected:
  void SetUp() override {
    NativeTest::SetUp();
    ::setenv(kMarker, "host-value-must-not-leak", 1);
  }
  void TearDown() override { ::unsetenv(kMarker); }
  static constexpr const char* kMarker = "ISOL8_TEST_HOST_MARKER";
};

const std::set<std::string> kDocumentedEnv = {"PATH",           "HOME",
                                              "USER",           "LANG",
                                              "TMPDIR",         "PYTHONUNBUFFERED",
                                              "PYTHONUSERBASE", "NPM_CONFIG_PREFIX",
                                              "DENO_DIR",       "NODE_PATH"};

TEST_F(NativeEnvironment, OnlyDocumentedVariablesPlusRequestEnvAndSecrets) {
  Options o;
  o.secrets["API_TOKEN"] = "sk-secret-value";
  ExecutionRequest req;
  req.env["MY_VAR"] = "my value";
  auto p = run_probe(o, req, ProbeVia::kPython);
  ASSERT_TRUE(p.ok()) << p.error;
  const json& env = p.report["env"];
  std::set<std::string> expected = kDocumentedEnv;
  expected.insert({"MY_VAR", "API_TOKEN"});
  std::set<std::string> seen;
  for (const auto& [k, v] : env.items()) seen.insert(k);
  EXPECT_EQ(seen, expected) << env.dump(2);
  EXPECT_EQ(env.value("HOME", ""), "/sandbox");
  EXPECT_EQ(env.value("USER", ""), "sandbox");
  EXPECT_EQ(env.value("TMPDIR", ""), "/tmp");
  EXPECT_EQ(env.value("PYTHONUNBUFFERED", ""), "1");
  EXPECT_EQ(env.value("MY_VAR", ""), "my value");
  // The secret's real value is in the environment; the probe prints it, and the runner masks it
  // on the way out (exactly the value, so "***" proves it was there).
  EXPECT_EQ(env.value("API_TOKEN", ""), "***");
  EXPECT_FALSE(contains(p.result.stdout_data, "sk-secret-value"));
  EXPECT_FALSE(env.contains(kMarker));
}

}  // namespace
}  // namespace isol8::test
