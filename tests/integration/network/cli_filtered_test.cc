// `isol8 run --net filtered` through the CLI: an allowed host of the test internet is reachable
// through the filtering proxy by name (resolved by the proxy, in the runner, through a hosts file
// bind-mounted over /etc/hosts in a private mount namespace that the CLI runs in), a denied one is
// refused, deny beats allow, and --log-network prints the requests.

#include <fstream>

#include "network_fixture.h"

namespace isol8::test {
namespace {

struct Cli {
  int status = -1;
  std::string out;
  std::string err;
};

// Runs the CLI in its own mount namespace, where /etc/hosts names the test internet.
Cli run_cli_in_test_world(const std::string& args) {
  TempDir dir;
  const std::string hosts = dir.path() + "/hosts";
  std::ofstream(hosts) << "127.0.0.1 localhost\n203.0.113.2 allowed.test blocked.test\n";
  const std::string err = dir.path() + "/err";
  const std::string script = "mount --bind " + hosts + " /etc/hosts && cd " + dir.path() +
                             " && HOME=" + dir.path() + " " + ISOL8_BINARY + " run " + args +
                             " 2>" + err;
  Cli r;
  std::string quoted = "'";
  for (char c : script) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
  quoted += "'";
  FILE* p = ::popen(("unshare -m --propagation private sh -c " + quoted).c_str(), "r");
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
  const int status = ::pclose(p);
  r.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.err = slurp(err);
  return r;
}

class CliFiltered : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "the filtered network's veth needs root";
    if (const auto why = sandbox_unavailable_reason(); !why.empty()) GTEST_SKIP() << why;
  }
};

constexpr const char* kFetch =
    "-e \"import urllib.request, urllib.error\n"
    "try:\n"
    "    print(urllib.request.urlopen('http://allowed.test/', timeout=10).read().decode())\n"
    "except urllib.error.HTTPError as e:\n"
    "    print('HTTP', e.code)\n\"";

TEST_F(CliFiltered, AllowedHostIsReachableByName) {
  TestInternet internet;
  ASSERT_TRUE(internet.ok());
  const auto r =
      run_cli_in_test_world(std::string("--net filtered --allow '^allowed\\.test$' ") + kFetch);
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(rtrim(r.out), "internet says hi") << r.err;
}

TEST_F(CliFiltered, HostOutsideTheAllowListIsRefused) {
  TestInternet internet;
  ASSERT_TRUE(internet.ok());
  const auto r =
      run_cli_in_test_world(std::string("--net filtered --allow '^other\\.test$' ") + kFetch);
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(rtrim(r.out), "HTTP 403") << r.err;
}

TEST_F(CliFiltered, DenyBeatsAllow) {
  TestInternet internet;
  ASSERT_TRUE(internet.ok());
  const auto r = run_cli_in_test_world(
      std::string("--net filtered --allow 'test$' --deny '^allowed' ") + kFetch);
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(rtrim(r.out), "HTTP 403") << r.err;
}

TEST_F(CliFiltered, LogNetworkPrintsTheRequests) {
  TestInternet internet;
  ASSERT_TRUE(internet.ok());
  const auto r = run_cli_in_test_world(
      std::string("--net filtered --no-stream --log-network --allow '^allowed\\.test$' ") + kFetch);
  EXPECT_EQ(r.status, 0) << r.err;
  const auto marker = r.err.find("--- Network Logs ---\n");
  ASSERT_NE(marker, std::string::npos) << r.err;
  const std::string line = r.err.substr(marker + 21, r.err.find('\n', marker + 21) - marker - 21);
  const auto entry = nlohmann::json::parse(line);
  EXPECT_EQ(entry["host"], "allowed.test");
  EXPECT_EQ(entry["method"], "GET");
  EXPECT_EQ(entry["action"], "ALLOW");
}

TEST_F(CliFiltered, AllowAndDenyNeedNoSupportFlag) {
  // The flags are parsed (no "not supported yet"); with --net none they change nothing.
  const auto r = run_cli_in_test_world("--allow x --deny y --log-network -e 'print(7)'");
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(rtrim(r.out), "7");
  EXPECT_FALSE(contains(r.err, "not supported")) << r.err;
}

}  // namespace
}  // namespace isol8::test
