// Network isolation: with the default network mode the sandbox has only a loopback interface and
// no route anywhere; with --net host it shares the host's interfaces. No test sends traffic off
// the machine: the connect to 1.1.1.1 fails before any packet exists, because there is no route.

#include <filesystem>
#include <set>
#include <sstream>

#include "support/test_support.h"

namespace isol8::test {
namespace {

namespace fs = std::filesystem;

class NativeNetwork : public LeakCheckedTest {};

std::set<std::string> host_interfaces() {
  std::set<std::string> out;
  std::istringstream in(slurp("/proc/net/dev"));
  std::string line;
  int n = 0;
  while (std::getline(in, line)) {
    if (n++ < 2) continue;
    const auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string name = line.substr(0, colon);
    name.erase(0, name.find_first_not_of(' '));
    out.insert(name);
  }
  return out;
}

// The host's interfaces minus the host ends of filtered sandboxes (isol8h<slot>), which the
// network tier, running in parallel, creates and removes at any moment.
std::set<std::string> lasting(std::set<std::string> names) {
  std::erase_if(names, [](const std::string& n) { return n.starts_with("isol8"); });
  return names;
}

std::set<std::string> probe_interfaces(const nlohmann::json& report) {
  std::set<std::string> out;
  for (const auto& i : report["interfaces"]) out.insert(i.get<std::string>());
  return out;
}

TEST_F(NativeNetwork, OnlyLoopbackByDefault) {
  auto p = run_probe(options());
  ASSERT_TRUE(p.ok()) << p.error;
  EXPECT_EQ(probe_interfaces(p.report), std::set<std::string>{"lo"}) << p.report["interfaces"];
}

TEST_F(NativeNetwork, NoRouteOut) {
  // Without a route the kernel refuses the connect at once (ENETUNREACH): nothing is sent.
  const auto r = execute_once(
      options(), python_request("import errno, socket\n"
                                "s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)\n"
                                "s.settimeout(5)\n"
                                "try:\n"
                                "    s.connect(('1.1.1.1', 80))\n"
                                "    print('CONNECTED')\n"
                                "except OSError as e:\n"
                                "    print(errno.errorcode.get(e.errno, e))\n"));
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->exit_code, 0) << r->stderr_data;
  EXPECT_EQ(r->stdout_data, "ENETUNREACH");
}

TEST_F(NativeNetwork, LoopbackIsUp) {
  const auto r =
      execute_once(options(), python_request("import socket\n"
                                             "srv = socket.socket()\n"
                                             "srv.bind(('127.0.0.1', 0))\n"
                                             "srv.listen(1)\n"
                                             "c = socket.create_connection(srv.getsockname(), 5)\n"
                                             "conn, _ = srv.accept()\n"
                                             "c.sendall(b'ping')\n"
                                             "print(conn.recv(4).decode())\n"));
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->exit_code, 0) << r->stderr_data;
  EXPECT_EQ(r->stdout_data, "ping");
}

TEST_F(NativeNetwork, NoDnsResolverConfigured) {
  const auto r = execute_once(options(), bash_request("cat /etc/resolv.conf | wc -c"));
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->stdout_data, "0");
}

TEST_F(NativeNetwork, HostModeSeesTheHostsInterfaces) {
  const auto host = lasting(host_interfaces());
  if (host.size() < 2) GTEST_SKIP() << "the host has only loopback: cannot tell the modes apart";
  Options o = options();
  o.network = NetworkMode::kHost;
  auto p = run_probe(o);
  ASSERT_TRUE(p.ok()) << p.error;
  EXPECT_EQ(lasting(probe_interfaces(p.report)), host) << p.report["interfaces"];
}

TEST_F(NativeNetwork, CliNetHostSeesTheHostsInterfaces) {
  const auto host = lasting(host_interfaces());
  if (host.size() < 2) GTEST_SKIP() << "the host has only loopback: cannot tell the modes apart";
  const CliRun none = cli().run({"run", "--cmd", "cat /proc/net/dev"});
  const CliRun hostnet = cli().run({"run", "--net", "host", "--cmd", "cat /proc/net/dev"});
  ASSERT_EQ(none.exit_code, 0) << describe(none);
  ASSERT_EQ(hostnet.exit_code, 0) << describe(hostnet);
  for (const auto& name : host) {
    if (name == "lo") continue;
    EXPECT_TRUE(contains(hostnet.out, name + ":")) << name << "\n" << hostnet.out;
    EXPECT_FALSE(contains(none.out, name + ":")) << name << "\n" << none.out;
  }
}

// One-shot CLI runs as root start in a namespace the run before made ahead (netns_slot.h): each
// must still be new. A run leaves a connection in TIME_WAIT (the kernel keeps it for a minute
// after the processes are gone), and the next run must not see it.
TEST_F(NativeNetwork, CliRunsNeverInheritAnotherRunsNetworkState) {
  const std::string code =
      "import os, socket\n"
      "def connections():\n"
      "    return sum(len(open(p).readlines()) - 1 for p in ('/proc/net/tcp', '/proc/net/tcp6'))\n"
      "print(os.readlink('/proc/self/ns/net'), connections())\n"
      "srv = socket.socket()\n"
      "srv.bind(('127.0.0.1', 0))\n"
      "srv.listen(1)\n"
      "c = socket.create_connection(srv.getsockname(), 5)\n"
      "conn, _ = srv.accept()\n"
      "c.close()\n"
      "conn.close()\n"
      "print(connections())\n";
  const std::string host_netns = fs::read_symlink("/proc/self/ns/net").string();
  std::string previous;
  int made_ahead = 0;
  for (int run = 0; run < 4; ++run) {
    CliOptions traced = cli().options();
    traced.env["ISOL8_TRACE"] = "1";
    const CliRun r = run_cli_with({"run", "-e", code}, traced);
    if (contains(r.err, "network namespace made ahead taken")) ++made_ahead;
    // A run that holds a slot begins the next namespace once its sandbox's root is built.
    if (contains(r.err, "network namespace made ahead taken") ||
        contains(r.err, "network namespace slot claimed")) {
      const size_t begun = r.err.find("sandbox root built, next network namespace begun");
      EXPECT_NE(begun, std::string::npos) << r.err;
      EXPECT_LT(begun, r.err.find("native: sandbox exited")) << r.err;
    }
    ASSERT_EQ(r.exit_code, 0) << describe(r);
    std::istringstream out(r.out);
    std::string netns;
    int before = -1, after = -1;
    out >> netns >> before >> after;
    EXPECT_EQ(before, 0) << "run " << run << " found connections of an earlier run:\n" << r.out;
    EXPECT_GE(after, 1) << "the run left no TIME_WAIT, so this test shows nothing:\n" << r.out;
    EXPECT_NE(netns, host_netns);
    // Both namespaces exist at the same time (the next is made while a run runs), so their
    // numbers differ unless they are one namespace.
    EXPECT_NE(netns, previous) << "two consecutive runs shared a network namespace";
    previous = netns;
  }
  // As root, the runs after the first start in the namespace a run before them made (unless
  // other tests' runs took every one of them meanwhile): this test must cover that path.
  if (::geteuid() == 0) {
    EXPECT_GE(made_ahead, 1) << "no run started in a namespace made ahead";
  }
}

// A one-shot filtered run uses the relay, whose sandbox is loopback-only too and may start in a
// namespace made ahead (as root, the run before it left one, unless another run took it): never
// in the host's.
TEST_F(NativeNetwork, CliFilteredRunsNeverShareTheHostsNetwork) {
  const std::string host_netns = fs::read_symlink("/proc/self/ns/net").string();
  for (int run = 0; run < 2; ++run) {
    const CliRun r =
        cli().run({"run", "--net", "filtered", "--allow", "example\\.com", "-r", "bash", "-e",
                   "readlink /proc/self/ns/net; "
                   "tail -n +3 /proc/net/dev | cut -d: -f1"});
    ASSERT_EQ(r.exit_code, 0) << describe(r);
    std::istringstream out(r.out);
    std::string netns;
    out >> netns;
    EXPECT_NE(netns, host_netns) << "run " << run << " ran in the host's network namespace";
    std::set<std::string> interfaces;
    for (std::string name; out >> name;) interfaces.insert(name);
    EXPECT_EQ(interfaces, std::set<std::string>{"lo"}) << r.out;
  }
}

TEST_F(NativeNetwork, InvalidNetModeIsRejected) {
  const CliRun r = cli().run({"run", "--net", "everything", "-e", "print(1)"});
  EXPECT_EQ(r.exit_code, 1) << describe(r);
  EXPECT_TRUE(contains(r.err, "Invalid --net value")) << r.err;
  EXPECT_TRUE(r.out.empty()) << r.out;
}

}  // namespace
}  // namespace isol8::test
