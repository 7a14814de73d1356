// The remote client end to end: `isol8 run --host` against the real `isol8 serve` (the same
// behaviours as a local run: output, exit codes, stdin, timeouts, truncation, secrets, --out,
// --json, files), server sessions (--session-id, --persistent), login/logout/session commands and
// the credentials file, and the faults a remote run must turn into one [ERR] line: an unreachable
// server, wrong and expired keys, a reply that is not JSON, a huge reply, a server that dies
// mid-stream.
//
// Native backend only: the subject is the CLI's remote client, not the backend behind the server
// (executions and sessions through the server run on both backends in server_exec_test.cc and
// server_sessions_test.cc).

#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <thread>

#include <gtest/gtest.h>

#include <algorithm>
#include "server_client.h"
#include "support/cli.h"
#include "support/files.h"
#include "support/net.h"
#include "support/test_pki.h"

namespace isol8::test {
namespace {

using nlohmann::json;

std::string url(int port) { return "http://127.0.0.1:" + std::to_string(port); }

class RemoteCliTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (geteuid() != 0) GTEST_SKIP() << "the server tier runs the native backend as root";
    auth_dir_ = new TempDir("isol8-remote-auth");
    server_ = new TestServer(json::object(), {"--auth-db", auth_dir_->path() + "/auth.db"});
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
    delete auth_dir_;
    auth_dir_ = nullptr;
  }
  void SetUp() override {
    if (server_ == nullptr) GTEST_SKIP() << "not root";
    ASSERT_TRUE(server_->ready()) << "the server did not answer /health";
  }

  // `isol8 <args>` with HOME in a directory of this test (credentials) and no key in the
  // environment.
  CliRun cli(std::vector<std::string> args, std::string input = "") const {
    CliOptions opts;
    opts.cwd = home_.path();
    opts.env["HOME"] = home_.path();
    opts.env["ISOL8_API_KEY"] = std::nullopt;
    opts.input = std::move(input);
    return run_cli_with(args, opts);
  }
  // `isol8 run --host <server> --key <master> <args>`.
  CliRun remote(std::vector<std::string> args, std::string input = "") const {
    std::vector<std::string> full = {"run", "--host", url(server_->port()), "--key", kMasterKey};
    full.insert(full.end(), args.begin(), args.end());
    return cli(full, std::move(input));
  }

  TempDir home_{"isol8-remote-home"};
  static TestServer* server_;
  static TempDir* auth_dir_;
};
TestServer* RemoteCliTest::server_ = nullptr;
TempDir* RemoteCliTest::auth_dir_ = nullptr;

TEST_F(RemoteCliTest, StreamedAndBufferedOutputAndExitCodes) {
  for (const char* mode : {"", "--no-stream"}) {
    std::vector<std::string> args = {
        "-e", "import sys; print('out'); print('err', file=sys.stderr); sys.exit(3)"};
    if (*mode != '\0') args.insert(args.begin(), mode);
    const CliRun r = remote(args);
    EXPECT_EQ(r.exit_code, 3) << mode << describe(r);
    EXPECT_EQ(r.out, "out\n") << mode << describe(r);
    EXPECT_NE(r.err.find("err"), std::string::npos) << mode << describe(r);
  }
}

TEST_F(RemoteCliTest, JsonResultAndStdin) {
  const CliRun r = remote({"--json", "--stdin", "from stdin", "-r", "bash", "-e", "cat; echo"});
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  const json j = json::parse(r.out);
  EXPECT_EQ(j["stdout"], "from stdin");
  EXPECT_EQ(j["exitCode"], 0);
  EXPECT_EQ(j["runtime"], "bash");
}

TEST_F(RemoteCliTest, TimeoutTruncationAndSecretsAsLocally) {
  CliRun r = remote({"--timeout", "1000", "-r", "bash", "-e", "sleep 30"});
  EXPECT_EQ(r.exit_code, 137) << describe(r);
  EXPECT_NE(r.err.find("EXECUTION TIMED OUT"), std::string::npos) << describe(r);

  r = remote({"--no-stream", "--max-output", "100", "-r", "bash", "-e",
              "head -c 5000 /dev/zero | tr '\\0' x"});
  EXPECT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_NE(r.out.find("--- OUTPUT TRUNCATED"), std::string::npos) << describe(r);

  r = remote({"--secret", "TOKEN=sk-remote-123", "-r", "bash", "-e", "echo $TOKEN"});
  EXPECT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_EQ(r.out, "***\n") << describe(r);
}

TEST_F(RemoteCliTest, OutFileAndFiles) {
  const std::string files = home_.path() + "/input";
  ASSERT_EQ(::mkdir(files.c_str(), 0755), 0);
  spit(files + "/data.txt", "file content");
  const std::string out = home_.path() + "/out.txt";
  const CliRun r =
      remote({"--files", files, "--out", out, "-r", "bash", "-e", "cat /sandbox/data.txt"});
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_EQ(r.out, "file content");  // streamed as the program wrote it
  EXPECT_NE(slurp(out).find("file content"), std::string::npos);
}

TEST_F(RemoteCliTest, NamedSessionKeepsFilesAcrossRunsUntilStopped) {
  const std::string id = "remote-test-session";
  CliRun r = remote({"--session-id", id, "-r", "bash", "-e", "echo kept > /sandbox/state.txt"});
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_NE(r.out.find("[Run] Session ID: " + id), std::string::npos) << describe(r);
  // Streamed (WebSocket) and buffered runs both reach the session.
  for (const char* mode : {"--no-stream", "--json"}) {
    r = remote({mode, "--session-id", id, "-r", "bash", "-e", "cat /sandbox/state.txt"});
    ASSERT_EQ(r.exit_code, 0) << mode << describe(r);
    EXPECT_NE(r.out.find("kept"), std::string::npos) << mode << describe(r);
  }
  r = remote({"--session-id", id, "-r", "bash", "-e", "cat /sandbox/state.txt"});
  EXPECT_NE(r.out.find("kept"), std::string::npos) << describe(r);

  r = cli({"session", "list", "--host", url(server_->port()), "--key", kMasterKey, "--json"});
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_NE(r.out.find(id), std::string::npos) << describe(r);
  r = cli({"session", "stop", id, "--host", url(server_->port()), "--key", kMasterKey});
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_EQ(r.out, "[OK] Session \"" + id + "\" destroyed.\n");
  r = cli({"session", "list", "--host", url(server_->port()), "--key", kMasterKey});
  EXPECT_EQ(r.out.find(id), std::string::npos) << describe(r);
}

TEST_F(RemoteCliTest, PersistentWithoutIdUsesAThrowawaySession) {
  const CliRun r = remote({"--persistent", "-r", "bash", "-e", "echo hi"});
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  const auto at = r.out.find("[Run] Session ID: cli-");
  ASSERT_NE(at, std::string::npos) << describe(r);
  const std::string id = r.out.substr(at + 18, r.out.find('\n', at) - at - 18);
  const CliRun list =
      cli({"session", "list", "--host", url(server_->port()), "--key", kMasterKey, "--json"});
  EXPECT_EQ(list.out.find(id), std::string::npos) << "the session outlived the run: " << list.out;
}

TEST_F(RemoteCliTest, SessionIdNeedsHostAndKeysAreResolved) {
  CliRun r = cli({"run", "--session-id", "x", "-e", "print(1)"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("--session-id requires --host"), std::string::npos) << describe(r);

  r = cli({"run", "--host", url(server_->port()), "-e", "print(1)"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("[ERR] API key required"), std::string::npos) << describe(r);

  r = cli({"run", "--host", url(server_->port()), "--key", "wrong", "-e", "print(1)"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("Invalid API key"), std::string::npos) << describe(r);
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << "one [ERR] line: " << r.err;
}

TEST_F(RemoteCliTest, LoginStoresATokenThatRunsUseAndLogoutRemovesIt) {
  CliRun r =
      cli({"login", "--host", url(server_->port()) + "/", "--key", kMasterKey, "--name", "t"});
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  const std::string creds = home_.path() + "/.isol8/credentials.json";
  struct stat st {};
  ASSERT_EQ(::stat(creds.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  const json stored = json::parse(slurp(creds));
  EXPECT_EQ(stored["host"], url(server_->port()));
  EXPECT_EQ(stored["token"].get<std::string>().rfind("isol8_", 0), 0u);

  r = cli({"run", "--host", url(server_->port()), "-r", "bash", "-e", "echo with-token"});
  EXPECT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_EQ(r.out, "with-token\n");

  // An expired token is not used, and the user is told why.
  json expired = stored;
  expired["expiresAt"] = "2001-01-01T00:00:00.000Z";
  spit(creds, expired.dump());
  r = cli({"run", "--host", url(server_->port()), "-e", "print(1)"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("expired"), std::string::npos) << describe(r);

  r = cli({"logout"});
  EXPECT_EQ(r.out, "[OK] Credentials removed from ~/.isol8/credentials.json\n");
  EXPECT_NE(::access(creds.c_str(), F_OK), 0);
  r = cli({"logout"});
  EXPECT_EQ(r.out, "[INFO] No stored credentials found.\n");
}

// A fake server (fake_server.py) with one fault.
class FakeServer {
 public:
  explicit FakeServer(const std::string& mode, const std::vector<std::string>& extra = {})
      : port_(free_port()) {
    CliOptions opts;
    opts.hang_limit = std::chrono::minutes(5);
    // The script runs as the "launcher" and ignores the CLI arguments it is given after its own.
    opts.launcher = {"/usr/bin/python3",
                     std::string(kSourceDir) + "/tests/integration/server/fake_server.py",
                     std::to_string(port_), mode};
    opts.launcher.insert(opts.launcher.end(), extra.begin(), extra.end());
    process_.emplace(std::vector<std::string>{"--version"}, opts);
    for (int i = 0; i < 200; ++i) {
      // A TLS server is ready once it accepts (a plain request cannot ask it).
      const bool ready = mode == "tls"
                             ? tcp_connects("127.0.0.1", static_cast<uint16_t>(port_))
                             : http_request(port_, "GET", "/health", "", "").status == 200;
      if (ready) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(25));
    }
  }
  ~FakeServer() {
    process_->signal(SIGKILL);
    process_->wait();
  }
  int port() const { return port_; }

 private:
  int port_;
  std::optional<CliProcess> process_;
};

// https: the server's certificate is verified (against the system's CAs; SSL_CERT_FILE points
// elsewhere) with its host name. A server whose CA is trusted answers; the same server is refused
// when its CA is not trusted, with one [ERR] line.
TEST_F(RemoteCliTest, HttpsVerifiesTheServersCertificate) {
  const TestPki pki = make_test_pki({"localhost"});
  const TestPki stranger = make_test_pki({"localhost"});
  TempDir certs("isol8-remote-tls");
  spit(certs.file("chain.pem"), pki.server_chain_pem);
  spit(certs.file("key.pem"), pki.server_key_pem);
  spit(certs.file("ca.pem"), pki.ca_pem);
  spit(certs.file("other-ca.pem"), stranger.ca_pem);
  FakeServer fake("tls", {certs.file("chain.pem"), certs.file("key.pem")});
  const std::string host = "https://localhost:" + std::to_string(fake.port());
  auto run_trusting = [&](const std::string& ca_file) {
    CliOptions opts;
    opts.cwd = home_.path();
    opts.env["HOME"] = home_.path();
    opts.env["ISOL8_API_KEY"] = std::nullopt;
    opts.env["SSL_CERT_FILE"] = ca_file;
    return run_cli_with({"run", "--host", host, "--key", "k", "--no-stream", "-e", "print(1)"},
                        opts);
  };
  CliRun r = run_trusting(certs.file("ca.pem"));
  EXPECT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_EQ(r.out, "over tls\n") << describe(r);
  r = run_trusting(certs.file("other-ca.pem"));
  EXPECT_EQ(r.exit_code, 1) << describe(r);
  EXPECT_TRUE(contains(r.err, "[ERR] Cannot reach the isol8 server at " + host)) << describe(r);
  EXPECT_TRUE(contains(r.err, "certificate verify failed")) << describe(r);
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  // A trusted certificate for another name: refused too.
  CliOptions opts;
  opts.cwd = home_.path();
  opts.env["HOME"] = home_.path();
  opts.env["SSL_CERT_FILE"] = certs.file("ca.pem");
  r = run_cli_with({"run", "--host", "https://127.0.0.1:" + std::to_string(fake.port()), "--key",
                    "k", "--no-stream", "-e", "print(1)"},
                   opts);
  EXPECT_EQ(r.exit_code, 1) << describe(r);
  EXPECT_TRUE(contains(r.err, "certificate verify failed")) << describe(r);
}

TEST_F(RemoteCliTest, FaultsEndInOneErrorLine) {
  struct Case {
    const char* mode;
    std::vector<std::string> flags;
    const char* message;
  };
  const std::vector<Case> cases = {
      {"not-json", {"--no-stream"}, "not JSON"},
      {"huge", {"--no-stream"}, "too large"},
      {"dies-mid-stream", {}, "before the execution's exit event"},
  };
  for (const Case& c : cases) {
    FakeServer fake(c.mode);
    std::vector<std::string> args = {"run", "--host", url(fake.port()), "--key", "k"};
    args.insert(args.end(), c.flags.begin(), c.flags.end());
    args.insert(args.end(), {"-e", "print(1)"});
    const CliRun r = cli(args);
    EXPECT_EQ(r.exit_code, 1) << c.mode << describe(r);
    EXPECT_FALSE(r.hung) << c.mode;
    EXPECT_NE(r.err.find("[ERR]"), std::string::npos) << c.mode << describe(r);
    EXPECT_NE(r.err.find(c.message), std::string::npos) << c.mode << describe(r);
  }
  // Nothing listening.
  const CliRun r = cli({"run", "--host", url(free_port()), "--key", "k", "-e", "print(1)"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("Cannot reach the isol8 server"), std::string::npos) << describe(r);
}

}  // namespace
}  // namespace isol8::test
