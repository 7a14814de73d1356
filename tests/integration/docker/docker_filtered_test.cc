// `isol8 run --backend docker --net filtered` end to end: the container has only loopback and no
// capability, reaches the test internet (tests/integration/network/network_fixture.h) only
// through isol8-relay and the runner's filtering proxy: an allowed host answers, another gets
// the proxy's 403, a direct TCP connection and UDP fail, and --log-network reports the requests.
// The CLI runs in a private mount namespace whose /etc/hosts names the test internet (the proxy
// resolves names in the runner).

#include <gtest/gtest.h>

#include <fstream>

#include "../network/network_fixture.h"
#include "docker_helpers.h"
#include "support/test_support.h"

namespace isol8::test {
namespace {

struct Cli {
  int status = -1;
  std::string out;
  std::string err;
};

Cli docker_cli_in_test_world(const std::string& args) {
  TempDir dir;
  const std::string hosts = dir.path() + "/hosts";
  std::ofstream(hosts) << "127.0.0.1 localhost\n203.0.113.2 allowed.test blocked.test\n";
  const std::string err = dir.path() + "/err";
  const std::string script = "mount --bind " + hosts + " /etc/hosts && cd " + dir.path() +
                             " && HOME=" + dir.path() + " ISOL8_RELAY=" + kRelayBinary + " " +
                             kIsol8Binary + " run --backend docker " + args + " 2>" + err;
  std::string quoted = "'";
  for (char c : script) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
  quoted += "'";
  Cli r;
  FILE* p = ::popen(("unshare -m --propagation private sh -c " + quoted).c_str(), "r");
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
  const int status = ::pclose(p);
  r.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.err = slurp(err);
  return r;
}

// One container run checks everything, each check printing one line. The interfaces come from
// netlink (if_nameindex): /sys is masked in the container, as the native sandbox has none.
constexpr const char* kProbe =
    "-e \"import os, socket, urllib.request, urllib.error\n"
    "def fetch(url):\n"
    "    try:\n"
    "        return urllib.request.urlopen(url, timeout=10).read().decode()\n"
    "    except urllib.error.HTTPError as e:\n"
    "        return 'HTTP %d' % e.code\n"
    "print('allowed:', fetch('http://allowed.test/'))\n"
    "print('blocked:', fetch('http://blocked.test/'))\n"
    "try:\n"
    "    socket.create_connection(('203.0.113.2', 80), timeout=5); print('direct: connected')\n"
    "except OSError as e:\n"
    "    print('direct: failed')\n"
    "try:\n"
    "    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.settimeout(3)\n"
    "    u.sendto(b'x', ('203.0.113.2', 53)); u.recvfrom(16); print('udp: answered')\n"
    "except OSError as e:\n"
    "    print('udp: failed')\n"
    "print('interfaces:', ' '.join(sorted(n for _, n in socket.if_nameindex())))\n"
    "cap = [l.split()[1] for l in open('/proc/self/status') if l.startswith('CapEff')][0]\n"
    "print('capeff:', cap)\n\"";

class DockerFiltered : public ::testing::Test {
 protected:
  void SetUp() override { ISOL8_REQUIRE_DOCKER(); }
};

TEST_F(DockerFiltered, OnlyTheProxyReachesOut) {
  TestInternet internet;
  ASSERT_TRUE(internet.ok());
  const auto r = docker_cli_in_test_world(
      std::string("--net filtered --no-stream --log-network --allow '^allowed\\.test$' ") + kProbe);
  ASSERT_EQ(r.status, 0) << r.out << r.err;
  EXPECT_TRUE(contains(r.out, "allowed: internet says hi\n")) << r.out << r.err;
  EXPECT_TRUE(contains(r.out, "blocked: HTTP 403\n")) << r.out;
  EXPECT_TRUE(contains(r.out, "direct: failed\n")) << r.out;
  EXPECT_TRUE(contains(r.out, "udp: failed\n")) << r.out;
  EXPECT_TRUE(contains(r.out, "interfaces: lo\n")) << r.out;
  EXPECT_TRUE(contains(r.out, "capeff: 0000000000000000\n")) << r.out;
  // Both requests went through the runner's proxy, which logged them.
  EXPECT_TRUE(contains(r.err, "--- Network Logs ---")) << r.err;
  EXPECT_TRUE(contains(r.err, "\"host\":\"allowed.test\"")) << r.err;
  EXPECT_TRUE(contains(r.err, "\"host\":\"blocked.test\"")) << r.err;
}

TEST_F(DockerFiltered, BashReachesTheProxyPortDirectly) {
  TestInternet internet;
  ASSERT_TRUE(internet.ok());
  const auto r = docker_cli_in_test_world(
      "--net filtered --allow '^allowed\\.test$' -r bash -e "
      "'exec 3<>/dev/tcp/127.0.0.1/8118 && printf \"GET http://allowed.test/ "
      "HTTP/1.0\\r\\n\\r\\n\" "
      ">&3 && tail -n1 <&3; echo'");
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "internet says hi")) << r.out << r.err;
}

TEST_F(DockerFiltered, NoProxySocketOrTempDirIsLeftBehind) {
  auto count = [] { return sh_out("ls -d /tmp/isol8-proxy-* 2>/dev/null | wc -l"); };
  const std::string before = count();
  const auto r = docker_cli_in_test_world("--net filtered -e 'print(5)'");
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(rtrim(r.out), "5");
  EXPECT_EQ(count(), before);
}

}  // namespace
}  // namespace isol8::test
