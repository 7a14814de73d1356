// --net filtered in the relay mode: what a user without root gets (no veth, no CAP_NET_ADMIN),
// and what native.filteredMode "relay" forces for root. The sandbox has only loopback; its init
// listens on 127.0.0.1:8118 before anything runs and starts isol8-relay there, which carries
// each connection to the real filtering proxy's Unix socket in a private directory of the
// runner. Asserted here: an allowed host answers over plain HTTP and through CONNECT, another
// gets the proxy's 403, direct TCP, UDP and DNS fail, `lo` is the only interface, the logs are
// right, the relay is not "the program" (exit code, end of the run) and nothing is left behind
// (no directory, no socket, no process), also when the proxy cannot start.
//
// The test "internet": as root the test builds it (TestInternet, 203.0.113.2). An unprivileged
// user cannot add addresses to the host's network, and a runner in a user namespace of its own
// could not map subordinate ids, so scripts/test-rootless (root) builds one before it runs this
// tier as its test users, and names the server's address in ISOL8_TEST_INTERNET.

#include <unistd.h>

#include <memory>
#include <set>

#include "network_fixture.h"

namespace isol8::test {
namespace {

// Each check prints one line, so that a failure says which one let traffic through.
std::string probe_code(const std::string& server, const std::string& blocked) {
  return R"(
import http.client, os, socket, urllib.request, urllib.error
SERVER, BLOCKED = ')" +
         server + "', '" + blocked + R"('
def fetch(url):
    try:
        return urllib.request.urlopen(url, timeout=15).read().decode()
    except urllib.error.HTTPError as e:
        return 'HTTP %d' % e.code
    except OSError as e:
        return 'ERROR %s' % e
print('proxy:', os.environ['HTTP_PROXY'], os.environ['https_proxy'], os.environ['NO_PROXY'])
print('allowed:', fetch('http://%s/' % SERVER))
try:
    c = http.client.HTTPConnection('127.0.0.1', 8118, timeout=15)
    c.set_tunnel(SERVER, 80)
    c.request('GET', '/')
    print('connect:', c.getresponse().read().decode())
except OSError as e:
    print('connect: ERROR', e)
print('blocked:', fetch('http://%s/' % BLOCKED))
try:
    socket.create_connection((SERVER, 80), timeout=5)
    print('direct: CONNECTED')
except OSError:
    print('direct: failed')
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u.settimeout(2)
try:
    u.sendto(b'ping', (SERVER, 53))
    u.recvfrom(100)
    print('udp: ANSWERED')
except OSError:
    print('udp: failed')
try:
    socket.getaddrinfo('example.com', 80)
    print('dns: RESOLVED')
except OSError:
    print('dns: failed')
names = [l.split(':')[0].strip() for l in open('/proc/net/dev').read().splitlines()[2:]]
print('interfaces:', ' '.join(sorted(names)))
)";
}

// The relay as the sandbox sees it: its pid, start time (field 22 of stat, the same inside and
// outside), uid, effective capabilities and seccomp mode.
constexpr const char* kFindRelay = R"(
import os
for pid in sorted(int(p) for p in os.listdir('/proc') if p.isdigit()):
    try:
        argv = open('/proc/%d/cmdline' % pid, 'rb').read().split(b'\0')
    except OSError:
        continue
    if argv[0] == b'isol8-relay':
        stat = open('/proc/%d/stat' % pid).read()
        start = stat[stat.rindex(')') + 2:].split()[19]
        status = dict(l.split(':\t', 1) for l in open('/proc/%d/status' % pid).read().splitlines())
        print('relay', pid, start, status['Uid'].split()[0], status['CapEff'].strip(),
              status['Seccomp'].strip(), b' '.join(argv[1:]).decode().strip())
)";

// Processes of the host whose argv[0] is isol8-relay and whose start time is `start`.
std::vector<pid_t> relays_started_at_now(const std::string& start) {
  std::vector<pid_t> found;
  for (pid_t pid : all_pids()) {
    const auto argv = cmdline_of(pid);
    if (argv.empty() || argv[0] != "isol8-relay") continue;
    const std::string stat = slurp("/proc/" + std::to_string(pid) + "/stat");
    const auto paren = stat.rfind(')');
    if (paren == std::string::npos) continue;
    std::istringstream fields(stat.substr(paren + 2));
    std::string field;
    for (int i = 0; i < 20 && fields >> field; ++i) {
    }
    if (field == start) found.push_back(pid);
  }
  return found;
}

// The same, but a relay of another test's sandbox that started in the same clock tick (ctest
// runs tests in parallel) is given a few seconds to end: only one that stays is reported.
std::vector<pid_t> relays_started_at(const std::string& start) {
  std::vector<pid_t> found = relays_started_at_now(start);
  for (int i = 0; i < 100 && !found.empty(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    found = relays_started_at_now(start);
  }
  return found;
}

std::vector<std::string> entries_of(const std::string& dir) {
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
    names.push_back(e.path().filename().string());
  }
  return names;
}

// The relay-mode backend with the real filtering proxy, a test internet to reach and a private
// TMPDIR (where the runner makes its proxy directory), checked to be empty after every test.
class RelayFiltered : public ::testing::Test {
 protected:
  void SetUp() override {
    if (const auto why = sandbox_unavailable_reason(); !why.empty()) GTEST_SKIP() << why;
    if (::geteuid() == 0) {
      internet_ = std::make_unique<TestInternet>();
      ASSERT_TRUE(internet_->ok()) << "could not build the test internet";
      server_ = TestInternet::kServer;
    } else if (const char* env = std::getenv("ISOL8_TEST_INTERNET"); env && *env) {
      server_ = env;
    } else {
      GTEST_SKIP() << "an unprivileged user cannot build the test internet; scripts/test-rootless "
                      "builds one and names it in ISOL8_TEST_INTERNET";
    }
    // A neighbour of the server on its network: nothing answers there, so a filter that let it
    // through could not reach anything off the machine either.
    blocked_ = server_.substr(0, server_.rfind('.')) + ".3";
    ::setenv("ISOL8_RELAY", kRelayBinary, 1);
    if (const char* old = std::getenv("TMPDIR")) old_tmpdir_ = old;
    ::setenv("TMPDIR", tmp_.path().c_str(), 1);
    auto backend = relay_backend();
    ASSERT_TRUE(backend) << backend.error().message;
    backend_ = std::move(backend).value();
  }
  void TearDown() override {
    backend_.reset();
    if (!tmp_.path().empty()) {
      EXPECT_TRUE(entries_of(tmp_.path()).empty())
          << "left in TMPDIR: " << ::testing::PrintToString(entries_of(tmp_.path()));
    }
    if (old_tmpdir_) {
      ::setenv("TMPDIR", old_tmpdir_->c_str(), 1);
    } else {
      ::unsetenv("TMPDIR");
    }
  }

  static Result<std::unique_ptr<Backend>> relay_backend(FilteredMode mode = FilteredMode::kRelay) {
    NativeBackendConfig config;
    config.filtered_mode = mode;
    return make_native_backend(config);
  }

  RunSpec allowing_server(const std::string& code) const {
    RunSpec spec = python_spec(code);
    spec.network_filter.whitelist = {"^" + escaped(server_) + "$"};
    return spec;
  }
  static std::string escaped(const std::string& address) {
    std::string out;
    for (char c : address) out += c == '.' ? std::string("\\.") : std::string(1, c);
    return out;
  }

  std::unique_ptr<TestInternet> internet_;
  std::string server_;
  std::string blocked_;
  TempDir tmp_;
  std::optional<std::string> old_tmpdir_;
  std::unique_ptr<Backend> backend_;
};

TEST_F(RelayFiltered, OnlyTheProxyReachesOut) {
  RunSpec spec = allowing_server(probe_code(server_, blocked_));
  spec.log_network = true;
  const auto r = run_spec(*backend_, spec);
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(rtrim(r.out),
            "proxy: http://127.0.0.1:8118 http://127.0.0.1:8118 localhost,127.0.0.1\n"
            "allowed: internet says hi\n"
            "connect: internet says hi\n"
            "blocked: HTTP 403\n"
            "direct: failed\n"
            "udp: failed\n"
            "dns: failed\n"
            "interfaces: lo")
      << r.err;
  // The proxy's log: the GET and the tunnel allowed, the other host blocked.
  std::multiset<std::string> seen;
  for (const auto& e : r.logs) seen.insert(e.method + " " + e.host + " " + e.action);
  const std::multiset<std::string> expected = {
      "GET " + server_ + " ALLOW", "CONNECT " + server_ + " ALLOW", "GET " + blocked_ + " BLOCK"};
  EXPECT_EQ(seen, expected);
}

TEST_F(RelayFiltered, RelayIsTheSandboxUsersConfinedAndDiesWithTheSandbox) {
  RunSpec spec = allowing_server(std::string(kFindRelay) + "raise SystemExit(7)\n");
  const auto r = run_spec(*backend_, spec);
  ASSERT_TRUE(r.ok) << r.error;
  // The program's exit code, not the relay's (which was still running).
  EXPECT_EQ(r.exit_code, 7) << r.err;
  std::istringstream line(r.out);
  std::string word, pid, start, uid, capeff, seccomp, args;
  line >> word >> pid >> start >> uid >> capeff >> seccomp;
  std::getline(line, args);
  ASSERT_EQ(word, "relay") << r.out << r.err;
  EXPECT_EQ(pid, "2") << "init's first child, started before the program";
  EXPECT_EQ(uid, "100");
  EXPECT_EQ(capeff, "0000000000000000");
  EXPECT_EQ(seccomp, "2") << "the relay runs under the sandbox's seccomp filter";
  EXPECT_EQ(rtrim(args), " --fd 8 /proc/self/fd/7");
  // Gone once the run has returned: it lived in the sandbox's pid namespace.
  EXPECT_TRUE(relays_started_at(start).empty());
}

TEST_F(RelayFiltered, PortIsOpenBeforeTheProgramStartsAndCannotBeTaken) {
  const auto r = run_spec(*backend_, allowing_server(R"(
import socket
c = socket.create_connection(('127.0.0.1', 8118), timeout=5)
print('first connect: ok')
s = socket.socket()
try:
    s.bind(('127.0.0.1', 8118))
    print('bind: TAKEN')
except OSError as e:
    print('bind: refused')
)"));
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(rtrim(r.out), "first connect: ok\nbind: refused") << r.err;
}

TEST_F(RelayFiltered, SetupScriptAlreadyHasTheNetwork) {
  RunSpec spec = allowing_server("print('program ran')");
  spec.setup_script =
      "/usr/bin/python3 -c \"import urllib.request; print(urllib.request.urlopen("
      "'http://" +
      server_ + "/', timeout=15).read().decode())\"";
  const auto r = run_spec(*backend_, spec);
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(rtrim(r.out), "program ran") << r.err;
}

TEST_F(RelayFiltered, ConcurrentRunsEachHaveTheirOwnRelay) {
  std::vector<std::thread> threads;
  std::vector<std::string> outs(4), errs(4);
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&, i] {
      const auto r =
          run_spec(*backend_, allowing_server("import urllib.request\n"
                                              "print(urllib.request.urlopen('http://" +
                                              server_ + "/', timeout=15).read().decode())\n"));
      outs[i] = r.ok ? rtrim(r.out) : r.error;
      errs[i] = r.err;
    });
  }
  for (auto& t : threads) t.join();
  for (int i = 0; i < 4; ++i)
    EXPECT_EQ(outs[i], "internet says hi") << "run " << i << ": " << errs[i];
}

TEST_F(RelayFiltered, ManyRunsLeaveNoDirectoryOrProcess) {
  for (int i = 0; i < 30; ++i) {
    const auto r = run_spec(*backend_, allowing_server(kFindRelay));
    ASSERT_TRUE(r.ok) << "run " << i << ": " << r.error;
    ASSERT_EQ(r.exit_code, 0) << r.err;
    std::istringstream line(r.out);
    std::string word, pid, start;
    line >> word >> pid >> start;
    ASSERT_EQ(word, "relay") << r.out;
    ASSERT_TRUE(relays_started_at(start).empty()) << "run " << i << " left its relay";
    // The proxy's directory goes with the run, not later.
    ASSERT_TRUE(entries_of(tmp_.path()).empty())
        << "run " << i << ": " << ::testing::PrintToString(entries_of(tmp_.path()));
  }
}

TEST_F(RelayFiltered, ProxyThatCannotStartLeavesNothing) {
  RunSpec spec = python_spec("print('must not run')");
  spec.network_filter.whitelist = {"(unclosed"};
  const auto r = run_spec(*backend_, spec);
  ASSERT_FALSE(r.ok) << r.out;
  EXPECT_TRUE(contains(r.error, "cannot start the filtering proxy")) << r.error;
  EXPECT_TRUE(entries_of(tmp_.path()).empty()) << ::testing::PrintToString(entries_of(tmp_.path()));
}

TEST_F(RelayFiltered, MissingRelayIsAClearError) {
  ::setenv("ISOL8_RELAY", (tmp_.path() + "/no-such-relay").c_str(), 1);
  const auto r = run_spec(*backend_, python_spec("print('must not run')"));
  ::setenv("ISOL8_RELAY", kRelayBinary, 1);
  ASSERT_FALSE(r.ok) << r.out;
  EXPECT_TRUE(contains(r.error, "needs the isol8-relay binary, which was not found")) << r.error;
  EXPECT_TRUE(entries_of(tmp_.path()).empty());
}

// Reclaimed by the next backend's first relay run, not at every backend's start (which would read
// all of $TMPDIR for every run, filtered or not).
TEST_F(RelayFiltered, SigkilledRunnersDirectoryIsRemovedByTheNextRelayRun) {
  const pid_t runner = ::fork();
  if (runner == 0) {
    auto backend = relay_backend();
    if (!backend) ::_exit(3);
    (void)run_spec(**backend, python_spec("import time\ntime.sleep(60)\n"));
    ::_exit(4);
  }
  bool up = false;
  for (int i = 0; i < 400 && !up; ++i) {
    up = !entries_of(tmp_.path()).empty();
    if (!up) std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  ::kill(runner, SIGKILL);
  ::waitpid(runner, nullptr, 0);
  ASSERT_TRUE(up) << "the runner's proxy directory never appeared";
  const auto left = entries_of(tmp_.path());
  ASSERT_EQ(left.size(), 1u);
  EXPECT_TRUE(left[0].starts_with("isol8-relay-" + std::to_string(runner) + "-")) << left[0];
  auto next = relay_backend();
  ASSERT_TRUE(next) << next.error().message;
  // Another file in $TMPDIR, and a run without the relay, leave the dead runner's directory be.
  const std::string other = tmp_.path() + "/someone-elses-file";
  ASSERT_TRUE(spit(other, "x"));
  ASSERT_TRUE(run_spec(**next, python_spec("pass", NetworkMode::kNone)).ok);
  EXPECT_EQ(entries_of(tmp_.path()).size(), 2u)
      << ::testing::PrintToString(entries_of(tmp_.path()));
  const auto r = run_spec(**next, python_spec("pass"));
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(entries_of(tmp_.path()), std::vector<std::string>{"someone-elses-file"});
  ::unlink(other.c_str());
}

TEST_F(RelayFiltered, AutoModeChoosesTheVethForRootAndTheRelayOtherwise) {
  auto backend = relay_backend(FilteredMode::kAuto);
  ASSERT_TRUE(backend) << backend.error().message;
  const auto r = run_spec(**backend, python_spec("import os; print(os.environ['HTTP_PROXY'])"));
  ASSERT_TRUE(r.ok) << r.error;
  if (::geteuid() == 0) {
    EXPECT_TRUE(rtrim(r.out).starts_with("http://10.231.")) << r.out;
  } else {
    EXPECT_EQ(rtrim(r.out), "http://127.0.0.1:8118");
  }
}

TEST_F(RelayFiltered, AutoFallsBackToTheRelayWhenNoVethCanBeMade) {
  if (::geteuid() != 0) GTEST_SKIP() << "without root, auto never tries a veth";
  NativeBackendConfig config;
  config.network_lock_dir = "/proc/isol8-no-such-dir";  // claiming a network slot fails
  auto backend = make_native_backend(config);
  ASSERT_TRUE(backend) << backend.error().message;
  for (int i = 0; i < 2; ++i) {
    const auto r =
        run_spec(**backend, allowing_server("import os, urllib.request\n"
                                            "print(os.environ['HTTP_PROXY'])\n"
                                            "print(urllib.request.urlopen('http://" +
                                            server_ + "/', timeout=15).read().decode())\n"));
    ASSERT_TRUE(r.ok) << r.error;
    EXPECT_EQ(rtrim(r.out), "http://127.0.0.1:8118\ninternet says hi") << r.err;
  }
}

// The CLI: as root with native.filteredMode "relay" in the config file, as anyone else by
// default. It finds isol8-relay next to itself.
class RelayFilteredCli : public RelayFiltered {
 protected:
  CliRun cli(const std::vector<std::string>& args) const {
    IsolatedCli isolated;
    if (::geteuid() == 0) {
      spit(isolated.dir().file("isol8.config.json"), R"({"native": {"filteredMode": "relay"}})");
    }
    CliOptions o = isolated.options();
    o.env["TMPDIR"] = tmp_.path();
    o.env["ISOL8_RELAY"] = std::nullopt;
    std::vector<std::string> argv = {"run"};
    argv.insert(argv.end(), args.begin(), args.end());
    return run_cli_with(argv, o);
  }
};

TEST_F(RelayFilteredCli, AllowedAndBlockedHostsWithLogs) {
  const std::string fetch =
      "import urllib.request, urllib.error\n"
      "for host in ('" +
      server_ + "', '" + blocked_ +
      "'):\n"
      "    try:\n"
      "        print(urllib.request.urlopen('http://%s/' % host, timeout=15).read().decode())\n"
      "    except urllib.error.HTTPError as e:\n"
      "        print('HTTP', e.code)\n";
  const auto r = cli({"--net", "filtered", "--allow", "^" + escaped(server_) + "$", "--no-stream",
                      "--log-network", "-e", fetch});
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_EQ(rtrim(r.out), "internet says hi\nHTTP 403") << describe(r);
  const auto marker = r.err.find("--- Network Logs ---\n");
  ASSERT_NE(marker, std::string::npos) << describe(r);
  std::istringstream lines(r.err.substr(marker + 21));
  std::vector<std::string> entries;
  for (std::string line; std::getline(lines, line);) {
    if (line.empty()) continue;
    const auto entry = nlohmann::json::parse(line);
    entries.push_back(entry["method"].get<std::string>() + " " + entry["host"].get<std::string>() +
                      " " + entry["action"].get<std::string>());
  }
  EXPECT_EQ(entries,
            (std::vector<std::string>{"GET " + server_ + " ALLOW", "GET " + blocked_ + " BLOCK"}));
}

TEST_F(RelayFilteredCli, BashReachesTheRelayPortDirectly) {
  // No client library at all: bash's /dev/tcp speaks to the relay, the proxy answers.
  const auto r = cli({"--net", "filtered", "--allow", "^" + escaped(server_) + "$", "--cmd",
                      "exec 3<>/dev/tcp/127.0.0.1/8118; printf 'GET http://" + server_ +
                          "/ HTTP/1.0\\r\\n\\r\\n' >&3; tail -n1 <&3"});
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_EQ(rtrim(r.out), "internet says hi") << describe(r);
}

}  // namespace
}  // namespace isol8::test
