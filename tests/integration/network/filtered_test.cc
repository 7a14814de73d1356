// --net filtered, native backend, as root: the sandbox's only way out is the proxy on its veth's
// host end. Direct connections (TCP to the test "internet" or to other host ports), UDP, DNS,
// ICMP and IPv6 fail, the sandbox cannot change its addresses or routes, and nothing is left
// behind, also after a SIGKILLed runner.

#include <signal.h>

#include <set>

#include "network_fixture.h"

namespace isol8::test {
namespace {

// Prints one word per check, so that failures say which check let traffic through.
constexpr const char* kProbeTcp = R"(
import socket, sys
def tcp(host, port):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(1.5)
    try:
        s.connect((host, port))
        return 'OPEN'
    except socket.timeout:
        return 'TIMEOUT'
    except OSError as e:
        return 'ERR'
print(tcp(sys.argv[1], int(sys.argv[2])))
)";

std::string tcp_probe(const std::string& host, int port) {
  std::string code = kProbeTcp;
  code.replace(code.find("sys.argv[1]"), 11, "'" + host + "'");
  code.replace(code.find("int(sys.argv[2])"), 16, std::to_string(port));
  return code;
}

class Filtered : public FilteredNetworkTest {};

TEST_F(Filtered, ReachesTheProxyThroughTheProxyVariables) {
  const auto r = run_python(*backend_,
                            "import os, urllib.request\n"
                            "print(os.environ['HTTP_PROXY'] == os.environ['https_proxy'])\n"
                            "print(os.environ['NO_PROXY'])\n"
                            "print(urllib.request.urlopen('http://allowed.test/hello', "
                            "timeout=10).read().decode())\n",
                            NetworkMode::kFiltered, true);
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(rtrim(r.out),
            "True\nlocalhost,127.0.0.1\nstand-in proxy: GET http://allowed.test/hello HTTP/1.1");
  ASSERT_EQ(r.logs.size(), 1u);
  EXPECT_EQ(r.logs[0].method, "GET");
}

TEST_F(Filtered, ProxyAddressIsTheVethHostEnd) {
  const auto r = run_python(*backend_,
                            "import os, socket, fcntl, struct\n"
                            "print(sorted(os.listdir('/sys/class/net')) if "
                            "os.path.exists('/sys/class/net') else '')\n"
                            "print(open('/proc/net/route').read().split('\\n')[1].split()[0:3])\n"
                            "print(os.environ['HTTP_PROXY'])\n");
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.exit_code, 0) << r.err;
  // The default route goes out of eth0 to the host end, which is the proxy's address.
  EXPECT_TRUE(contains(r.out, "['eth0', '00000000',")) << r.out;
  EXPECT_TRUE(contains(r.out, "http://10.231.")) << r.out;
  EXPECT_TRUE(contains(r.out, ":8118")) << r.out;
}

TEST_F(Filtered, DirectTcpToTheInternetFails) {
  TestInternet internet;
  ASSERT_TRUE(internet.ok()) << "could not build the test internet";
  // The host reaches it, so a failure inside is the sandbox's.
  ASSERT_TRUE(tcp_connects(TestInternet::kServer, 80));
  const auto r = run_python(*backend_, tcp_probe(TestInternet::kServer, 80));
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(rtrim(r.out), "OPEN");
}

TEST_F(Filtered, OtherPortsOfTheHostEndFail) {
  // A host service listening on every address, the sandbox's gateway included.
  UniqueFd listener(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  socklen_t len = sizeof sa;
  ASSERT_EQ(::bind(listener.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa), 0);
  ASSERT_EQ(::listen(listener.get(), 4), 0);
  ASSERT_EQ(::getsockname(listener.get(), reinterpret_cast<sockaddr*>(&sa), &len), 0);
  const int port = ntohs(sa.sin_port);
  std::string code = tcp_probe("GW", port);
  code.replace(code.find("'GW'"), 4, "gw");
  code = "import os\ngw = os.environ['HTTP_PROXY'].split('//')[1].split(':')[0]\n" + code;
  const auto r = run_python(*backend_, code);
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(rtrim(r.out), "OPEN");
}

TEST_F(Filtered, UdpDnsIcmpAndIpv6Fail) {
  TestInternet internet;
  ASSERT_TRUE(internet.ok()) << "could not build the test internet";
  const auto r = run_python(*backend_, R"(
import socket
out = []
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u.settimeout(1.5)
try:
    u.sendto(b'ping', ('203.0.113.2', 53))
    u.recvfrom(100)
    out.append('UDP-OPEN')
except OSError:
    out.append('udp-blocked')
try:
    socket.getaddrinfo('allowed.test', 80)
    out.append('DNS-OPEN')
except OSError:
    out.append('dns-blocked')
try:
    socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    out.append('RAW-OPEN')
except OSError:
    out.append('raw-blocked')
try:
    i = socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_ICMP)
    i.settimeout(1.5)
    i.sendto(b'\x08\x00\xf7\xff\x00\x00\x00\x00', ('203.0.113.2', 0))
    i.recvfrom(100)
    out.append('ICMP-OPEN')
except OSError:
    out.append('icmp-blocked')
try:
    s6 = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    s6.settimeout(1.5)
    s6.connect(('2001:db8::1', 80))
    out.append('IPV6-OPEN')
except OSError:
    out.append('ipv6-blocked')
print(' '.join(out))
)");
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(rtrim(r.out), "udp-blocked dns-blocked raw-blocked icmp-blocked ipv6-blocked");
}

TEST_F(Filtered, SandboxCannotChangeItsAddressesOrRoutes) {
  if (!std::filesystem::exists("/usr/sbin/ip")) GTEST_SKIP() << "iproute2 is not installed";
  const auto r = run_python(*backend_, R"(
import subprocess
for args in (['addr', 'add', '10.9.9.9/32', 'dev', 'eth0'], ['link', 'set', 'eth0', 'down'],
             ['route', 'del', 'default'], ['route', 'add', '203.0.113.0/24', 'dev', 'eth0'],
             ['link', 'set', 'lo', 'down'], ['link', 'add', 'x0', 'type', 'dummy']):
    p = subprocess.run(['/usr/sbin/ip'] + args, capture_output=True, text=True)
    print(p.returncode != 0 and 'denied' or 'CHANGED', p.stderr.strip())
print(open('/proc/net/route').read().count('\n'))
)");
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_FALSE(contains(r.out, "CHANGED")) << r.out;
  EXPECT_TRUE(contains(r.out, "Operation not permitted")) << r.out;
  // Header, the default route and the /30: unchanged.
  EXPECT_TRUE(r.out.ends_with("3\n")) << r.out;
}

TEST_F(Filtered, NoneStillBlocksEverything) {
  TestInternet internet;
  ASSERT_TRUE(internet.ok()) << "could not build the test internet";
  const auto r = run_python(*backend_, tcp_probe(TestInternet::kServer, 80), NetworkMode::kNone);
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(rtrim(r.out), "ERR");
}

TEST_F(Filtered, TwoHundredRunsLeaveNothing) {
  for (int i = 0; i < 200; ++i) {
    const auto r = run_python(*backend_, "pass");
    ASSERT_TRUE(r.ok) << "run " << i << ": " << r.error;
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  // A backend in use keeps one network ready; it goes with the backend.
  backend_.reset();
  const auto left = network_leftovers_settled();
  EXPECT_TRUE(left.empty()) << ::testing::PrintToString(left);
}

TEST_F(Filtered, ConcurrentRunsGetDistinctSlots) {
  std::vector<std::thread> threads;
  std::vector<std::string> outs(4);
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&, i] {
      const auto r = run_python(*backend_,
                                "import os, urllib.request\n"
                                "print(os.environ['HTTP_PROXY'], urllib.request.urlopen("
                                "'http://x.test/', timeout=10).status)\n");
      outs[i] = r.ok ? rtrim(r.out) : r.error;
    });
  }
  for (auto& t : threads) t.join();
  std::set<std::string> distinct(outs.begin(), outs.end());
  EXPECT_EQ(distinct.size(), 4u) << ::testing::PrintToString(outs);
  for (const auto& o : outs) EXPECT_TRUE(o.ends_with(" 200")) << o;
}

TEST_F(Filtered, SigkilledRunnerLeavesNothingAfterTheNextRun) {
  const pid_t runner = ::fork();
  if (runner == 0) {
    auto backend = filtered_backend();
    if (!backend) ::_exit(3);
    (void)run_python(**backend, "import time\nprint('up', flush=True)\ntime.sleep(60)\n");
    ::_exit(4);
  }
  // Wait until its network exists.
  bool up = false;
  for (int i = 0; i < 400 && !up; ++i) {
    for (const auto& l : network_leftovers()) up = up || l.starts_with("link ");
    if (!up) std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  ::kill(runner, SIGKILL);
  int status = 0;
  ::waitpid(runner, &status, 0);
  ASSERT_TRUE(up) << "the runner's sandbox network never appeared";
  // One more run (a new backend reclaims what the dead runner held).
  auto backend = filtered_backend();
  ASSERT_TRUE(backend) << backend.error().message;
  const auto r = run_python(**backend, "pass");
  ASSERT_TRUE(r.ok) << r.error;
  const auto left = network_leftovers_settled();
  EXPECT_TRUE(left.empty()) << ::testing::PrintToString(left);
}

}  // namespace
}  // namespace isol8::test
