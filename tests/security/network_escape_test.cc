// Network egress with no network (--net none, the default): the host's loopback services, its
// abstract Unix sockets and its own addresses must be unreachable. Nothing leaves the machine:
// the sandbox's network namespace has only lo, so connects to other addresses fail with
// ENETUNREACH before any packet exists.

#include <ifaddrs.h>
#include <net/if.h>

#include "security/security_fixture.h"

namespace isol8::test::security {
namespace {

using nlohmann::json;

class NetworkEscape : public SecurityTest {};

// Tries TCP connect / UDP send to 127.0.0.1:<TCP_PORT>/<UDP_PORT> and [::1].
constexpr const char* kLoopbackScript = R"PY(
import errno, os, socket
tcp, udp = int(os.environ['TCP_PORT']), int(os.environ['UDP_PORT'])
for fam, host in ((socket.AF_INET, '127.0.0.1'), (socket.AF_INET6, '::1'),
                  (socket.AF_INET6, '::ffff:127.0.0.1')):
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.settimeout(2)
    try:
        s.connect((host, tcp))
        print('ALLOWED tcp', host)
    except OSError as e:
        print('DENIED tcp', host, errno.errorcode.get(e.errno, e))
    s.close()
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u.sendto(b'from-the-sandbox', ('127.0.0.1', udp))
print('udp sent')
print('DONE')
)PY";

TEST_P(NetworkEscape, HostLoopbackServicesAreUnreachable) {
  LoopbackListener tcp(SOCK_STREAM);
  LoopbackListener udp(SOCK_DGRAM);
  ASSERT_TRUE(tcp.ok() && udp.ok());
  ExecutionRequest req = python_request(kLoopbackScript);
  req.env["TCP_PORT"] = std::to_string(tcp.port());
  req.env["UDP_PORT"] = std::to_string(udp.port());
  auto r = execute(req);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, RunStatus::kOk) << describe(*r);
  EXPECT_TRUE(contains(r->stdout_data, "DONE")) << describe(*r);
  EXPECT_FALSE(contains(r->stdout_data, "ALLOWED")) << describe(*r);
  EXPECT_TRUE(contains(r->stdout_data, "DENIED tcp 127.0.0.1 ECONNREFUSED")) << describe(*r);
  EXPECT_FALSE(tcp.reached()) << "a connection from the sandbox reached the host's loopback";
  EXPECT_FALSE(udp.reached()) << "a datagram from the sandbox reached the host's loopback";
}

TEST_P(NetworkEscape, HostLoopbackIsUnreachableThroughTheCliWithNetNone) {
  LoopbackListener tcp(SOCK_STREAM);
  LoopbackListener udp(SOCK_DGRAM);
  ASSERT_TRUE(tcp.ok() && udp.ok());
  const std::string code = std::string("import os\nos.environ['TCP_PORT'] = '") +
                           std::to_string(tcp.port()) + "'\nos.environ['UDP_PORT'] = '" +
                           std::to_string(udp.port()) + "'\n" + kLoopbackScript;
  const CliRun r = cli_run({"--net", "none", "--json", "-e", code});
  EXPECT_EQ(r.exit_code, 0) << isol8::test::describe(r);
  const json j = json::parse(r.out, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << r.out;
  const std::string out = j["stdout"].get<std::string>();
  EXPECT_TRUE(contains(out, "DONE")) << out;
  EXPECT_FALSE(contains(out, "ALLOWED")) << out;
  EXPECT_FALSE(tcp.reached());
  EXPECT_FALSE(udp.reached());
}

TEST_P(NetworkEscape, HostAbstractUnixSocketsAreUnreachable) {
  // Abstract Unix sockets belong to the network namespace, not to a filesystem.
  const std::string name = "isol8-sec-" + std::to_string(::getpid());
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  ASSERT_GE(fd, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path + 1, name.data(), name.size());
  const socklen_t len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + name.size());
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), len), 0) << std::strerror(errno);
  ASSERT_EQ(::listen(fd, 4), 0);
  ExecutionRequest req = attack_script(
      "def conn():\n"
      "    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)\n"
      "    s.settimeout(2)\n"
      "    s.connect('\\0' + os.environ['ABSTRACT'])\n"
      "    return 'connected'\n"
      "attempt('abstract_connect', conn)\n"
      "def listed():\n"
      "    names = [l.split()[-1] for l in open('/proc/net/unix').read().splitlines()[1:]\n"
      "             if len(l.split()) > 7]\n"
      "    hits = [n for n in names if os.environ['ABSTRACT'] in n]\n"
      "    return (-1, 'not listed') if not hits else hits\n"
      "attempt('abstract_listed', listed)\n");
  req.env["ABSTRACT"] = name;
  auto r = execute(req);
  pollfd p{fd, POLLIN, 0};
  const bool reached = ::poll(&p, 1, 0) > 0;
  ::close(fd);
  ASSERT_TRUE(r);
  expect_all_denied(*r, {"abstract_connect", "abstract_listed"});
  EXPECT_FALSE(reached) << "a connection from the sandbox reached the host's abstract socket";
}

// The host's own non-loopback IPv4 addresses (reaching them would reach host services).
std::vector<std::string> host_addresses() {
  std::vector<std::string> out;
  ifaddrs* list = nullptr;
  if (::getifaddrs(&list) != 0) return out;
  for (ifaddrs* i = list; i != nullptr; i = i->ifa_next) {
    if (i->ifa_addr == nullptr || i->ifa_addr->sa_family != AF_INET) continue;
    if (i->ifa_flags & IFF_LOOPBACK) continue;
    char buf[INET_ADDRSTRLEN];
    const auto* sin = reinterpret_cast<const sockaddr_in*>(i->ifa_addr);
    if (::inet_ntop(AF_INET, &sin->sin_addr, buf, sizeof buf) != nullptr) out.push_back(buf);
  }
  ::freeifaddrs(list);
  return out;
}

TEST_P(NetworkEscape, EgressHasNoRoute) {
  std::string targets = "10.255.255.1 192.0.2.1";
  for (const auto& a : host_addresses()) targets += " " + a;
  ExecutionRequest req = attack_script(
      "def conn(host, port, fam=socket.AF_INET):\n"
      "    def f():\n"
      "        s = socket.socket(fam, socket.SOCK_STREAM)\n"
      "        s.settimeout(2)\n"
      "        s.connect((host, port))\n"
      "        return 'connected'\n"
      "    return f\n"
      "for h in os.environ['TARGETS'].split():\n"
      "    attempt('tcp_' + h, conn(h, 80))\n"
      "attempt('tcp6_doc', conn('2001:db8::1', 80, socket.AF_INET6))\n"
      "def udp():\n"
      "    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
      "    return u.sendto(b'x', ('10.255.255.1', 53))\n"
      "attempt('udp_out', udp)\n"
      "attempt('dns', lambda: socket.getaddrinfo('example.com', 80))\n"
      "ifs = sorted(n for _, n in socket.if_nameindex())\n"
      "print('interfaces', ifs)\n");
  req.env["TARGETS"] = targets;
  auto r = execute(req);
  ASSERT_TRUE(r);
  std::vector<std::string> names = {"tcp6_doc", "udp_out"};
  std::istringstream t(targets);
  for (std::string h; t >> h;) names.push_back("tcp_" + h);
  // getaddrinfo raises socket.gaierror (an OSError) when nothing resolves.
  names.push_back("dns");
  expect_all_denied(*r, names);
  EXPECT_EQ(reported(r->stdout_data, "interfaces"), "['lo']") << describe(*r);
}

ISOL8_BACKEND_SUITE(NetworkEscape);

}  // namespace
}  // namespace isol8::test::security
