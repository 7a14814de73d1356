// The network modes end to end through the CLI, on every way isol8 runs a sandbox: the native
// backend with a veth (root), the native backend with the loopback relay (what rootless users
// get; forced here with native.filteredMode "relay") and the Docker backend. The same assertions
// hold for each:
//   none      blocks TCP, UDP, DNS, ICMP, raw sockets and IPv6;
//   host      reaches a server on the host's loopback;
//   filtered  reaches an allowed host over HTTP and over CONNECT (HTTPS, the client trusting the
//             test CA) and nothing else: a denied host gets the proxy's 403 (deny beats allow), a
//             name that resolves to a private, metadata or loopback address is refused, direct
//             TCP to the server's address, UDP, DNS, ICMP, raw sockets and IPv6 fail, the
//             network log is right, and nothing is left after 200 runs or after a SIGKILLed CLI
//             followed by one more run.
// The CLI runs in a private mount namespace whose /etc/hosts names the test internet
// (network_fixture.h), which the proxy resolves in the runner. Nothing leaves the machine.
// Compiled once and linked into the network tier's binary (native and relay cases) and the
// docker tier's (the docker cases): see sandboxes_under_test() and tests/CMakeLists.txt.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <set>

#include "network_fixture.h"
#include "support/test_support.h"

namespace isol8::test {
namespace {

using nlohmann::json;

enum class Sandbox { kNativeVeth, kNativeRelay, kDocker };

std::string name_of(Sandbox s) {
  switch (s) {
    case Sandbox::kNativeVeth:
      return "native";
    case Sandbox::kNativeRelay:
      return "relay";
    case Sandbox::kDocker:
      return "docker";
  }
  return "?";
}

// The sandbox kinds of the backends this binary runs (backend_params.h): the native backend's two
// filtered modes (the network tier), docker (the docker tier).
std::vector<Sandbox> sandboxes_under_test() {
  std::vector<Sandbox> out;
  for (BackendKind kind : backends_under_test()) {
    if (kind == BackendKind::kNative) {
      out.insert(out.end(), {Sandbox::kNativeVeth, Sandbox::kNativeRelay});
    } else {
      out.push_back(Sandbox::kDocker);
    }
  }
  return out;
}

constexpr const char* kHosts =
    "127.0.0.1 localhost loop.test\n"
    "203.0.113.2 allowed.test blocked.test\n"
    "10.1.2.3 private.test\n"
    "169.254.169.254 metadata.test\n";

// Every way out but the proxy, one word each; upper case means the way was open.
constexpr const char* kEscapeProbe = R"PY(
import socket
out = []
def attempt(name, f):
    try:
        f()
        out.append(name.upper() + '-OPEN')
    except OSError:
        out.append(name + '-blocked')
def tcp(port):
    def f():
        s = socket.create_connection(('203.0.113.2', port), timeout=3)
        s.close()
    return f
def udp():
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.settimeout(3)
    u.sendto(b'ping', ('203.0.113.2', 53))
    u.recvfrom(100)
def raw():
    socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
def icmp():
    i = socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_ICMP)
    i.settimeout(3)
    i.sendto(b'\x08\x00\xf7\xff\x00\x00\x00\x00', ('203.0.113.2', 0))
    i.recvfrom(100)
def ipv6():
    s6 = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    s6.settimeout(3)
    s6.connect(('2001:db8::1', 80))
attempt('tcp80', tcp(80))
attempt('tcp443', tcp(443))
attempt('udp', udp)
attempt('dns', lambda: socket.getaddrinfo('allowed.test', 80))
attempt('raw', raw)
attempt('icmp', icmp)
attempt('ipv6', ipv6)
print(' '.join(out))
)PY";

constexpr const char* kAllBlocked =
    "tcp80-blocked tcp443-blocked udp-blocked dns-blocked raw-blocked icmp-blocked ipv6-blocked";

// Fetches each URL given after the code (through the proxy variables the sandbox has), trusting
// the CA in the CA variable; prints "<url> -> <body or refusal>" per URL.
std::string fetch_code(const std::string& ca_pem, const std::vector<std::string>& urls) {
  std::string code =
      "import ssl, urllib.request, urllib.error\n"
      "ctx = ssl.create_default_context(cadata='''" +
      ca_pem +
      "''')\n"
      "def fetch(url):\n"
      "    try:\n"
      "        with urllib.request.urlopen(url, timeout=15, context=ctx) as r:\n"
      "            return r.read().decode()\n"
      "    except urllib.error.HTTPError as e:\n"
      "        return 'HTTP %d %s' % (e.code, e.read().decode())\n"
      "    except urllib.error.URLError as e:\n"
      "        return 'refused: %s' % e.reason\n"
      "for url in [";
  for (const auto& u : urls) code += "'" + u + "', ";
  code += "]:\n    print(url, '->', fetch(url), flush=True)\n";
  return code;
}

class NetworkModes : public ::testing::TestWithParam<Sandbox> {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) {
      GTEST_SKIP() << "the test world (a hosts file bind-mounted in a mount namespace, the test "
                      "internet) needs root; scripts/test runs this tier as root, and "
                      "RelayFiltered covers the unprivileged path";
    }
    if (docker()) {
      if (const auto why = docker_unavailable_reason(); !why.empty()) {
        GTEST_SKIP() << "docker backend unavailable: " << why;
      }
      containers_before_ = isol8_container_count();
    } else if (const auto why = sandbox_unavailable_reason(); !why.empty()) {
      GTEST_SKIP() << why;
    }
    internet_ = std::make_unique<TestInternet>();
    ASSERT_TRUE(internet_->ok()) << "could not build the test internet";
    spit(dir_.file("hosts"), kHosts);
    write_config(json::object());
    ::mkdir(tmp_dir().c_str(), 0700);
  }

  void TearDown() override {
    if (IsSkipped()) return;
    const auto left = network_leftovers_settled();
    EXPECT_TRUE(left.empty()) << ::testing::PrintToString(left);
    EXPECT_EQ(tmp_entries(), std::vector<std::string>{})
        << "the runner's proxy or relay directory was left in TMPDIR";
    if (docker()) {
      EXPECT_EQ(isol8_container_count(), containers_before_) << "isol8 containers left behind";
    }
  }

  // This test's isol8.config.json: the sandbox's filtered mode, and `extra` keys.
  void write_config(json extra) const {
    extra["native"]["filteredMode"] = GetParam() == Sandbox::kNativeRelay ? "relay" : "veth";
    spit(dir_.file("isol8.config.json"), extra.dump());
  }
  std::string audit_dir() const { return dir_.file("audit"); }
  bool docker() const { return GetParam() == Sandbox::kDocker; }
  std::string tmp_dir() const { return dir_.file("tmp"); }

  std::vector<std::string> tmp_entries() const {
    std::vector<std::string> names;
    std::error_code ec;
    for (const auto& e : std::filesystem::directory_iterator(tmp_dir(), ec)) {
      names.push_back(e.path().filename().string());
    }
    return names;
  }

  // The CLI options: the test world's /etc/hosts, this test's config file (cwd) and TMPDIR.
  CliOptions options() const {
    CliOptions o;
    o.cwd = dir_.path();
    o.env["HOME"] = dir_.path();
    o.env["TMPDIR"] = tmp_dir();
    o.env["ISOL8_RELAY"] = kRelayBinary;
    o.launcher = {"/usr/bin/unshare",
                  "-m",
                  "--propagation",
                  "private",
                  "/bin/sh",
                  "-c",
                  "mount --bind \"$0\" /etc/hosts && exec \"$@\"",
                  dir_.file("hosts")};
    return o;
  }

  std::vector<std::string> run_args(std::vector<std::string> args) const {
    std::vector<std::string> argv = {"run"};
    for (const auto& flag :
         backend_cli_flags(docker() ? BackendKind::kDocker : BackendKind::kNative)) {
      argv.push_back(flag);
    }
    argv.insert(argv.end(), args.begin(), args.end());
    return argv;
  }

  CliRun cli(std::vector<std::string> args) const {
    return run_cli_with(run_args(std::move(args)), options());
  }

  // `--json` run: the parsed result (fails the test when the CLI printed none).
  json cli_json(std::vector<std::string> args) const {
    args.insert(args.begin(), "--json");
    const CliRun r = cli(std::move(args));
    EXPECT_EQ(r.exit_code, 0) << describe(r);
    json j = json::parse(r.out, nullptr, false);
    EXPECT_FALSE(j.is_discarded()) << describe(r);
    return j.is_discarded() ? json::object() : j;
  }

  const TestInternet& internet() const { return *internet_; }
  long containers_before() const { return containers_before_; }

 private:
  std::unique_ptr<TestInternet> internet_;
  TempDir dir_;
  long containers_before_ = 0;
};

std::string stdout_of(const json& result) { return result.value("stdout", std::string()); }

TEST_P(NetworkModes, NoneBlocksEverything) {
  // An allow rule means nothing without --net filtered.
  const json r = cli_json({"--net", "none", "--allow", ".*", "-e", kEscapeProbe});
  EXPECT_EQ(rtrim(stdout_of(r)), kAllBlocked) << r.dump();
}

TEST_P(NetworkModes, HostReachesALoopbackServer) {
  const LoopbackListener l;
  ASSERT_TRUE(l.ok()) << std::strerror(errno);
  std::thread server([&] {
    pollfd p{l.fd(), POLLIN, 0};
    if (::poll(&p, 1, 60000) <= 0) return;
    UniqueFd c(::accept4(l.fd(), nullptr, nullptr, SOCK_CLOEXEC));
    const std::string hello = "hello from the host";
    (void)!::write(c.get(), hello.data(), hello.size());
  });
  const json r =
      cli_json({"--net", "host", "-e",
                "import socket\ns = socket.create_connection(('127.0.0.1', " +
                    std::to_string(l.port()) + "), timeout=10)\nprint(s.recv(100).decode())\n"});
  server.join();
  EXPECT_EQ(rtrim(stdout_of(r)), "hello from the host") << r.dump();
}

TEST_P(NetworkModes, FilteredReachesOnlyAllowedHostsOverHttpAndConnect) {
  const json r = cli_json(
      {"--net", "filtered", "--allow", "^allowed\\.test$", "--log-network", "-e",
       fetch_code(internet().ca_pem(), {"http://allowed.test/a?b=1", "https://allowed.test/",
                                        "http://blocked.test/", "https://blocked.test/"})});
  const std::string out = stdout_of(r);
  EXPECT_TRUE(contains(out, "http://allowed.test/a?b=1 -> internet says hi\n")) << r.dump();
  EXPECT_TRUE(contains(out, "https://allowed.test/ -> secure internet says hi\n")) << r.dump();
  EXPECT_TRUE(
      contains(out,
               "http://blocked.test/ -> HTTP 403 isol8: request to blocked.test blocked by network "
               "filter\n"))
      << r.dump();
  EXPECT_TRUE(contains(out, "https://blocked.test/ -> refused: Tunnel connection failed: 403"))
      << r.dump();

  // One entry per request, in any order (a tunnel is logged when it closes).
  ASSERT_TRUE(r.contains("networkLogs") && r["networkLogs"].is_array()) << r.dump();
  std::set<std::string> seen;
  for (const json& e : r["networkLogs"]) {
    for (const char* key :
         {"timestamp", "method", "host", "port", "path", "action", "durationMs", "bytes"}) {
      EXPECT_TRUE(e.contains(key)) << key << " missing in " << e.dump();
    }
    EXPECT_GE(e.value("durationMs", -1.0), 0.0) << e.dump();
    const std::string path = e["path"].is_string() ? e["path"].get<std::string>() : "-";
    seen.insert(e.value("method", "") + " " + e.value("host", "") + ":" +
                std::to_string(e.value("port", 0)) + " " + path + " " + e.value("action", ""));
    if (e.value("action", "") == "ALLOW") {
      EXPECT_GT(e.value("bytes", 0), 0) << e.dump();
    }
  }
  EXPECT_EQ(seen, (std::set<std::string>{
                      "GET allowed.test:80 /a?b=1 ALLOW",
                      "CONNECT allowed.test:443 - ALLOW",
                      "GET blocked.test:80 / BLOCK",
                      "CONNECT blocked.test:443 - BLOCK",
                  }))
      << r.dump();
}

// The audit records the filter's denials as security events, also without --log-network (the
// result then carries no network log).
TEST_P(NetworkModes, FilteredDenialsAreAuditSecurityEvents) {
  write_config({{"audit", {{"enabled", true}, {"logDir", audit_dir()}}}});
  const json r = cli_json({"--net", "filtered", "--allow", "^allowed\\.test$", "-e",
                           fetch_code(internet().ca_pem(), {"http://blocked.test/"})});
  EXPECT_FALSE(r.contains("networkLogs")) << r.dump();
  const auto lines = lines_of(slurp(audit_dir() + "/executions.log"));
  ASSERT_EQ(lines.size(), 1u);
  const json record = json::parse(lines[0], nullptr, false);
  ASSERT_TRUE(record.contains("securityEvents")) << lines[0];
  const json& event = record["securityEvents"][0];
  EXPECT_EQ(event["type"], "network_blocked") << lines[0];
  EXPECT_EQ(event["host"], "blocked.test") << lines[0];
  EXPECT_EQ(event["port"], 80) << lines[0];
  EXPECT_EQ(event["method"], "GET") << lines[0];
  EXPECT_TRUE(event["timestamp"].is_string()) << lines[0];
}

TEST_P(NetworkModes, FilteredLogNetworkPrintsTheLogAfterTheOutput) {
  const CliRun r =
      cli({"--net", "filtered", "--allow", "^allowed\\.test$", "--no-stream", "--log-network", "-e",
           fetch_code(internet().ca_pem(), {"http://allowed.test/"})});
  EXPECT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_EQ(rtrim(r.out), "http://allowed.test/ -> internet says hi") << describe(r);
  const auto marker = r.err.find("--- Network Logs ---\n");
  ASSERT_NE(marker, std::string::npos) << describe(r);
  const std::string line = r.err.substr(marker + 21, r.err.find('\n', marker + 21) - marker - 21);
  const json entry = json::parse(line, nullptr, false);
  ASSERT_FALSE(entry.is_discarded()) << describe(r);
  EXPECT_EQ(entry["host"], "allowed.test");
  EXPECT_EQ(entry["method"], "GET");
  EXPECT_EQ(entry["action"], "ALLOW");
}

TEST_P(NetworkModes, FilteredDenyBeatsAllow) {
  const json r = cli_json(
      {"--net", "filtered", "--allow", "test$", "--deny", "^allowed", "-e",
       fetch_code(internet().ca_pem(), {"http://allowed.test/", "https://blocked.test/"})});
  const std::string out = stdout_of(r);
  EXPECT_TRUE(contains(out,
                       "http://allowed.test/ -> HTTP 403 isol8: request to allowed.test "
                       "blocked by network filter\n"))
      << r.dump();
  EXPECT_TRUE(contains(out, "https://blocked.test/ -> secure internet says hi")) << r.dump();
}

TEST_P(NetworkModes, FilteredRefusesNamesOfPrivateMetadataAndLoopbackAddresses) {
  // A host service on loopback, which loop.test names: it must not be reached through the proxy.
  const LoopbackListener listener;
  ASSERT_TRUE(listener.ok()) << std::strerror(errno);
  const std::string loop_url = "http://loop.test:" + std::to_string(listener.port()) + "/";
  const json r = cli_json(
      {"--net", "filtered", "--allow", "\\.test$", "-e",
       fetch_code(internet().ca_pem(), {"http://private.test/", "http://metadata.test/latest/",
                                        "https://metadata.test/", loop_url})});
  const std::string out = stdout_of(r);
  EXPECT_TRUE(contains(out,
                       "http://private.test/ -> HTTP 403 isol8: request to private.test "
                       "blocked: 10.1.2.3 is"))
      << r.dump();
  EXPECT_TRUE(contains(out,
                       "http://metadata.test/latest/ -> HTTP 403 isol8: request to "
                       "metadata.test blocked: 169.254.169.254 is"))
      << r.dump();
  EXPECT_TRUE(contains(out, "https://metadata.test/ -> refused: Tunnel connection failed: 403"))
      << r.dump();
  EXPECT_TRUE(contains(out, loop_url + " -> HTTP 403 isol8: request to loop.test blocked: "
                                       "127.0.0.1 is"))
      << r.dump();
  pollfd p{listener.fd(), POLLIN, 0};
  EXPECT_EQ(::poll(&p, 1, 0), 0) << "a connection reached the host's loopback service";
}

TEST_P(NetworkModes, FilteredBlocksEveryOtherWayOut) {
  // The host reaches the server directly, so a failure inside is the sandbox's.
  ASSERT_TRUE(tcp_connects(TestInternet::kServer, 80));
  const json r = cli_json({"--net", "filtered", "--allow", "^allowed\\.test$", "-e", kEscapeProbe});
  EXPECT_EQ(rtrim(stdout_of(r)), kAllBlocked) << r.dump();
}

TEST_P(NetworkModes, FilteredWorksWithoutAClientLibrary) {
  // bash's /dev/tcp speaks HTTP to the proxy address the sandbox is given.
  const CliRun r =
      cli({"--net", "filtered", "--allow", "^allowed\\.test$", "-r", "bash", "-e",
           "p=${HTTP_PROXY#http://}; exec 3<>/dev/tcp/${p%:*}/${p##*:} && printf "
           "'GET http://allowed.test/ HTTP/1.0\\r\\n\\r\\n' >&3 && tail -n1 <&3; echo"});
  EXPECT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_EQ(rtrim(r.out), "internet says hi") << describe(r);
}

TEST_P(NetworkModes, FilteredTwoHundredRunsLeaveNothing) {
  // TearDown checks the links, tables, locks, TMPDIR and containers after the last run.
  for (int i = 0; i < 200; ++i) {
    const CliRun r = cli({"--net", "filtered", "-e", "pass"});
    ASSERT_EQ(r.exit_code, 0) << "run " << i << ": " << describe(r);
  }
}

TEST_P(NetworkModes, FilteredSigkilledCliLeavesNothingAfterTheNextRun) {
  CliProcess runner(run_args({"--net", "filtered", "-e", "import time\ntime.sleep(120)\n"}),
                    options());
  ASSERT_TRUE(runner.started());
  // The run is up once its network side exists: the veth, or the relay's or proxy's directory.
  bool up = false;
  for (int i = 0; i < 1200 && !up; ++i) {
    up = !tmp_entries().empty();
    for (const auto& l : network_leftovers()) up = up || l.starts_with("link ");
    if (docker()) up = up && isol8_container_count() > containers_before();
    if (!up) std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  ASSERT_TRUE(up) << "the run's network never appeared";
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // let the program start
  runner.signal(SIGKILL);
  const CliRun killed = runner.wait();
  EXPECT_EQ(killed.term_signal, SIGKILL) << describe(killed);
  // One more run: the next runner reclaims what the dead one held (TearDown checks).
  const CliRun next = cli({"--net", "filtered", "-e", "print(1)"});
  EXPECT_EQ(next.exit_code, 0) << describe(next);
  EXPECT_EQ(rtrim(next.out), "1") << describe(next);
}

INSTANTIATE_TEST_SUITE_P(Backends, NetworkModes, ::testing::ValuesIn(sandboxes_under_test()),
                         [](const auto& info) { return name_of(info.param); });

}  // namespace
}  // namespace isol8::test
