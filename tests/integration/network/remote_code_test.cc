// Remote code (--url, --github, --gist, --hash, --allow-insecure-code-url) end to end through the
// CLI, against the test internet (network_fixture.h) serving code over HTTPS with the test CA:
// a good fetch runs; hash match and mismatch; http refused without the flag; redirects to
// 127.0.0.1, 169.254.169.254, [::ffff:127.0.0.1] and a blocked host refused (and a listener on
// the loopback never reached); a name resolving to a private address refused; DNS rebinding (the
// checked address is the one connected to); too big with and without Content-Length; too slow;
// binary content; remoteCode disabled.
// The CLI runs in a private mount namespace whose /etc/hosts names the test hosts, whose
// resolv.conf names only the test's DNS server on the loopback, and whose CA bundle
// (/etc/ssl/certs/ca-certificates.crt, libcurl's default) is the test CA. The test's
// config replaces the default blockedHosts with only ^blocked\.test$, so that every address
// refusal below comes from the address check, not from a host pattern.

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <thread>

#include "common/sha256.h"
#include "network_fixture.h"
#include "support/test_support.h"

namespace isol8::test {
namespace {

using nlohmann::json;

constexpr const char* kCode = "print('remote hello')";

// /hello.py the code; /redirect.py?to=<url> a 302 there; /big-length 4000 bytes with a
// Content-Length, /big-stream the same without one (the connection closes at the end); /slow.py
// its headers then a byte a second; /binary.py and /nul.py bytes that are not text; /gone.py 404.
const std::string kHandler = std::string(R"PY(
import urllib.parse
class H(http.server.BaseHTTPRequestHandler):
    def body(self, b, length=True):
        self.send_response(200)
        if length: self.send_header('Content-Length', str(len(b)))
        self.end_headers(); self.wfile.write(b)
    def do_GET(self):
        u = urllib.parse.urlparse(self.path)
        if u.path == '/hello.py': return self.body(b")PY") +
                             kCode + R"PY(")
        if u.path == '/redirect.py':
            self.send_response(302)
            self.send_header('Location', urllib.parse.parse_qs(u.query)['to'][0])
            self.send_header('Content-Length', '0'); self.end_headers(); return
        if u.path == '/big-length.py': return self.body(b'#' * 4000)
        if u.path == '/big-stream.py': return self.body(b'#' * 4000, length=False)
        if u.path == '/slow.py':
            self.send_response(200); self.send_header('Content-Length', '100'); self.end_headers()
            for _ in range(100):
                self.wfile.write(b'#'); self.wfile.flush(); time.sleep(1)
            return
        if u.path == '/binary.py': return self.body(b'print(1)\n\xff\xfe\x80')
        if u.path == '/nul.py': return self.body(b'print(1)\x00\n')
        self.send_response(404); self.send_header('Content-Length', '0'); self.end_headers()
    def log_message(self, *a): pass
)PY";

// A DNS server on 127.0.0.77:53 for the CLI's mount namespace (its resolv.conf names only this
// server, so no name leaves the machine). rebind.test is DNS rebinding: its first A answer is the
// test server, every later one 127.0.0.1, all with TTL 0. Every A query for it is logged to
// argv[1]. Other names: NXDOMAIN.
constexpr const char* kDnsServer = R"PY(
import socket, struct, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(('127.0.0.77', 53))
log = open(sys.argv[1], 'a', buffering=1)
asked = 0
while True:
    d, peer = s.recvfrom(512)
    i, labels = 12, []
    while d[i] != 0:
        labels.append(d[i + 1:i + 1 + d[i]].decode().lower()); i += 1 + d[i]
    qtype = struct.unpack('>H', d[i + 1:i + 3])[0]
    question = d[12:i + 5]
    name, answer = '.'.join(labels), b''
    if name == 'rebind.test' and qtype == 1:
        asked += 1
        log.write('A\n')
        ip = '203.0.113.2' if asked == 1 else '127.0.0.1'
        answer = b'\xc0\x0c' + struct.pack('>HHIH', 1, 1, 0, 4) + socket.inet_aton(ip)
    rcode = 0 if name == 'rebind.test' else 3
    header = d[:2] + struct.pack('>HHHHH', 0x8180 | rcode, 1, 1 if answer else 0, 0, 0)
    s.sendto(header + question + answer, peer)
)PY";

// kDnsServer while it lives.
class DnsServer {
 public:
  explicit DnsServer(const std::string& log) {
    pid_ = ::fork();
    if (pid_ == 0) {
      ::execl("/usr/bin/python3", "python3", "-c", kDnsServer, log.c_str(), nullptr);
      ::_exit(127);
    }
    // The log is opened once the socket is bound.
    for (int i = 0; i < 500 && pid_ > 0 && ::access(log.c_str(), F_OK) != 0; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }
  ~DnsServer() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
  DnsServer(const DnsServer&) = delete;
  DnsServer& operator=(const DnsServer&) = delete;

 private:
  pid_t pid_ = -1;
};

constexpr const char* kResolvConf = "nameserver 127.0.0.77\noptions timeout:1 attempts:1\n";

constexpr const char* kHosts =
    "127.0.0.1 localhost\n"
    "203.0.113.2 allowed.test blocked.test\n"
    "10.1.2.3 private.test\n";

class RemoteCode : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (::geteuid() != 0 || !sandbox_unavailable_reason().empty()) return;
    internet_ = new TestInternet(kHandler);
    dns_dir_ = new TempDir("isol8-test-dns");
    dns_ = new DnsServer(dns_log());
  }
  static void TearDownTestSuite() {
    delete internet_;
    internet_ = nullptr;
    delete dns_;
    dns_ = nullptr;
    delete dns_dir_;
    dns_dir_ = nullptr;
  }
  static std::string dns_log() { return dns_dir_->file("queries.log"); }

  void SetUp() override {
    if (::geteuid() != 0) {
      GTEST_SKIP() << "the test world (hosts file and CA bundle bind-mounted in a mount "
                      "namespace, the test internet) needs root";
    }
    if (const auto why = sandbox_unavailable_reason(); !why.empty()) GTEST_SKIP() << why;
    ASSERT_TRUE(internet_ != nullptr && internet_->ok()) << "could not build the test internet";
    spit(dir_.file("hosts"), kHosts);
    spit(dir_.file("ca.pem"), internet_->ca_pem());
    spit(dir_.file("resolv.conf"), kResolvConf);
    write_config(true);
  }

  void write_config(bool enabled) {
    spit(dir_.file("isol8.config.json"), json{{"remoteCode",
                                               {{"enabled", enabled},
                                                {"allowedSchemes", {"https", "http"}},
                                                {"blockedHosts", {"^blocked\\.test$"}},
                                                {"maxCodeSize", 1000},
                                                {"fetchTimeoutMs", 2500}}}}
                                             .dump());
  }

  CliOptions options() const {
    CliOptions o;
    o.cwd = dir_.path();
    o.env["HOME"] = dir_.path();
    o.launcher = {"/usr/bin/unshare",
                  "-m",
                  "--propagation",
                  "private",
                  "/bin/sh",
                  "-c",
                  "mount --bind \"$0\" /etc/hosts && "
                  "mount --bind \"$1\" /etc/ssl/certs/ca-certificates.crt && "
                  "mount --bind \"$2\" /etc/resolv.conf && shift 2 && "
                  "exec \"$@\"",
                  dir_.file("hosts"),
                  dir_.file("ca.pem"),
                  dir_.file("resolv.conf")};
    return o;
  }

  CliRun run(std::vector<std::string> args) const {
    args.insert(args.begin(), "run");
    return run_cli_with(args, options());
  }

  // A run expected to be refused: exit 1 and `message` in the CLI's error.
  void expect_refused(const std::vector<std::string>& args, const std::string& message) const {
    const CliRun r = run(args);
    EXPECT_EQ(r.exit_code, 1) << describe(r);
    EXPECT_TRUE(contains(r.err, "[ERR] " + message)) << "wanted: " << message << "\n"
                                                     << describe(r);
  }

  static std::string https(const std::string& path) { return "https://allowed.test" + path; }
  static std::string redirect_to(const std::string& target) {
    return https("/redirect.py?to=" + target);
  }

  static TestInternet* internet_;
  static TempDir* dns_dir_;
  static DnsServer* dns_;
  TempDir dir_;
};

TestInternet* RemoteCode::internet_ = nullptr;
TempDir* RemoteCode::dns_dir_ = nullptr;
DnsServer* RemoteCode::dns_ = nullptr;

TEST_F(RemoteCode, AGoodFetchRunsWithTheRuntimeFromThePath) {
  const CliRun r = run({"--url", https("/hello.py")});
  EXPECT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_EQ(rtrim(r.out), "remote hello") << describe(r);
}

TEST_F(RemoteCode, HashMatchRunsAndMismatchIsRefused) {
  std::string upper = sha256_hex(kCode);
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  const CliRun good = run({"--url", https("/hello.py"), "--hash", upper});
  EXPECT_EQ(good.exit_code, 0) << describe(good);
  EXPECT_EQ(rtrim(good.out), "remote hello");
  expect_refused({"--url", https("/hello.py"), "--hash", sha256_hex("print('other')")},
                 "Remote code hash mismatch");
  expect_refused({"--url", https("/hello.py"), "--hash", "abc"}, "Invalid codeHash");
}

TEST_F(RemoteCode, HttpNeedsTheFlag) {
  expect_refused({"--url", "http://allowed.test/hello.py"},
                 "Insecure code URL blocked. Use allowInsecureCodeUrl=true to allow HTTP.");
  const CliRun r = run({"--url", "http://allowed.test/hello.py", "--allow-insecure-code-url"});
  EXPECT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_EQ(rtrim(r.out), "remote hello");
  // An https URL redirecting to http is held to the same rule.
  expect_refused({"--url", redirect_to("http://allowed.test/hello.py")},
                 "Insecure code URL blocked.");
}

TEST_F(RemoteCode, RedirectsAreCheckedAgainAtEveryHop) {
  // A listener on the host's loopback stands for an internal service: never reached.
  const LoopbackListener internal;
  ASSERT_TRUE(internal.ok());
  const std::string port = std::to_string(internal.port());
  expect_refused({"--url", redirect_to("https://127.0.0.1:" + port + "/x.py")},
                 "Blocked code URL host: 127.0.0.1 (127.0.0.1 is a loopback address)");
  expect_refused({"--url", redirect_to("http://169.254.169.254/latest/meta-data/x.py"),
                  "--allow-insecure-code-url"},
                 "Blocked code URL host: 169.254.169.254 (169.254.169.254 is the cloud metadata "
                 "address)");
  expect_refused({"--url", redirect_to("https://[::ffff:127.0.0.1]:" + port + "/x.py")},
                 "Blocked code URL host: [::ffff:127.0.0.1] (");
  expect_refused(
      {"--url", redirect_to("https://blocked.test/hello.py")},
      "Blocked code URL host: blocked.test (redirected to https://blocked.test/hello.py");
  expect_refused({"--url", redirect_to("https://private.test/hello.py")},
                 "Blocked code URL host: private.test (10.1.2.3 is a private address)");
  EXPECT_FALSE(internal.reached()) << "a redirect reached the loopback listener";
  // A redirect to an allowed place is followed.
  const CliRun r = run({"--url", redirect_to(https("/hello.py"))});
  EXPECT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_EQ(rtrim(r.out), "remote hello");
}

TEST_F(RemoteCode, ANameResolvingToAPrivateAddressIsRefused) {
  expect_refused({"--url", "https://private.test/hello.py"},
                 "Blocked code URL host: private.test (10.1.2.3 is a private address)");
  expect_refused({"--url", "https://nowhere.test/hello.py"},
                 "Failed to resolve code URL host: nowhere.test");
}

// DNS rebinding: the name's first answer is a public address, every later one the loopback. The
// address checked is the address connected to (pinned with CURLOPT_RESOLVE), so the name is
// resolved once and the code comes from the checked server.
TEST_F(RemoteCode, TheCheckedAddressIsTheOneConnectedTo) {
  const CliRun r = run({"--url", "http://rebind.test/hello.py", "--allow-insecure-code-url"});
  EXPECT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_EQ(rtrim(r.out), "remote hello") << describe(r);
  EXPECT_EQ(slurp(dns_log()), "A\n") << "rebind.test must be resolved exactly once";
  // Asked again, the name is the loopback now, and refused as such.
  expect_refused({"--url", "http://rebind.test/hello.py", "--allow-insecure-code-url"},
                 "Blocked code URL host: rebind.test (127.0.0.1 is a loopback address)");
}

TEST_F(RemoteCode, TooBigWithAndWithoutContentLength) {
  expect_refused({"--url", https("/big-length.py")},
                 "Remote code exceeds maxCodeSize (1000 bytes): 4000 bytes");
  expect_refused({"--url", https("/big-stream.py")},
                 "Remote code exceeds maxCodeSize (1000 bytes)");
}

TEST_F(RemoteCode, TooSlowIsCutAtTheTimeLimit) {
  const CliRun r = run({"--url", https("/slow.py")});
  EXPECT_EQ(r.exit_code, 1) << describe(r);
  EXPECT_TRUE(contains(r.err, "[ERR] Remote code fetch timed out after 2500ms")) << describe(r);
}

TEST_F(RemoteCode, BinaryContentIsRefused) {
  expect_refused({"--url", https("/binary.py")}, "Fetched code appears to be binary content");
  expect_refused({"--url", https("/nul.py")}, "Fetched code appears to be binary content");
  expect_refused({"--url", https("/gone.py")}, "Failed to fetch remote code: HTTP 404");
}

TEST_F(RemoteCode, DisabledByDefault) {
  write_config(false);
  expect_refused({"--url", https("/hello.py")},
                 "Remote code fetching is disabled. Set remoteCode.enabled=true to allow it.");
}

TEST_F(RemoteCode, CliInputRules) {
  expect_refused({"--url", https("/hello.py"), "-e", "print(1)"},
                 "--url/--github/--gist cannot be used with file input or --eval.");
  expect_refused({"--cmd", "true", "--url", https("/hello.py")},
                 "--cmd cannot be combined with file input, --eval, --url, --github, or --gist.");
  expect_refused({"--url", https("/readme")}, "Cannot detect runtime from URL path");
  expect_refused({"--github", "owner/repo/main"},
                 "--github format must be owner/repo/ref/path/to/file");
  expect_refused({"--gist", "only-an-id"}, "--gist format must be gistId/file.ext");
  // --runtime wins over the path.
  const CliRun r = run({"--url", https("/hello.py"), "--runtime", "bash"});
  EXPECT_NE(r.exit_code, 0) << "python code run by bash should fail: " << describe(r);
}

}  // namespace
}  // namespace isol8::test
