// `isol8 run --backend docker` end to end through the real CLI: the behaviour the native CLI
// tests assert (exit codes, stdin, timeout, truncation, secrets, workdir, files, errors), on
// the docker backend.

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>

#include "docker_helpers.h"
#include "support/test_support.h"

namespace isol8::test {
namespace {

CliResult docker_run(std::vector<std::string> args, const std::string& input = "") {
  args.insert(args.begin(), {"run", "--backend", "docker"});
  return run_cli(args, input);
}

bool contains(const std::string& s, const std::string& what) {
  return s.find(what) != std::string::npos;
}

class DockerCli : public ::testing::Test {
 protected:
  void SetUp() override { ISOL8_REQUIRE_DOCKER(); }
};

TEST_F(DockerCli, ExitCodeAndStreams) {
  auto r =
      docker_run({"-e", "import sys; print('out'); print('err', file=sys.stderr); sys.exit(42)"});
  EXPECT_EQ(r.exit_code, 42) << r.err;
  EXPECT_EQ(r.out, "out\n");
  EXPECT_EQ(r.err, "err\n");
}

TEST_F(DockerCli, StdinReachesTheProgram) {
  auto r = docker_run({"--stdin", "hello stdin", "-e", "import sys; print(sys.stdin.read())"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "hello stdin\n");
}

TEST_F(DockerCli, CodeFromStdinAndAFile) {
  auto a = docker_run({"-r", "bash"}, "echo from-stdin-code");
  EXPECT_EQ(a.out, "from-stdin-code\n") << a.err;
  const std::string path = "/tmp/isol8-docker-cli-" + std::to_string(::getpid()) + ".py";
  std::ofstream(path) << "import os\nprint(os.getcwd(), os.getuid())\n";
  auto b = docker_run({path});
  std::remove(path.c_str());
  EXPECT_EQ(b.exit_code, 0) << b.err;
  EXPECT_EQ(b.out, "/sandbox 100\n");
}

TEST_F(DockerCli, TimeoutKillsWith137AndTheMarker) {
  auto r = docker_run(
      {"--timeout", "1500", "-e", "import time; print('a', flush=True); time.sleep(60)"});
  EXPECT_EQ(r.exit_code, 137);
  EXPECT_EQ(r.out, "a\n");
  EXPECT_TRUE(contains(r.err, "--- EXECUTION TIMED OUT ---")) << r.err;
}

TEST_F(DockerCli, OutputIsTruncated) {
  auto r = docker_run({"--no-stream", "--max-output", "100", "-e", "print('x' * 10000)"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "--- OUTPUT TRUNCATED")) << r.out.substr(0, 300);
  EXPECT_LT(r.out.size(), 400u);
}

TEST_F(DockerCli, SecretsAreMasked) {
  auto r = docker_run(
      {"--secret", "TOKEN=sk-very-secret", "-e",
       "import os, sys; print(os.environ['TOKEN']); print(os.environ['TOKEN'], file=sys.stderr)"});
  EXPECT_EQ(r.out, "***\n");
  EXPECT_EQ(r.err, "***\n");
}

TEST_F(DockerCli, WorkdirIsCreatedInsideSandbox) {
  auto r = docker_run({"--workdir", "project/sub", "--cmd", "pwd"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "/sandbox/project/sub\n");
  auto bad = docker_run({"--workdir", "/etc", "--cmd", "pwd"});
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_TRUE(contains(bad.err, "Working directory must be inside /sandbox")) << bad.err;
}

TEST_F(DockerCli, RootIsReadOnlyAndTmpIsNoexec) {
  auto r = docker_run({"--cmd",
                       "touch /etc/x 2>/dev/null && echo root-writable; cp /bin/true /tmp/t && "
                       "/tmp/t 2>/dev/null && echo tmp-exec; cp /bin/true /sandbox/t && /sandbox/t "
                       "&& echo sandbox-exec"});
  EXPECT_EQ(r.out, "sandbox-exec\n") << r.err;
}

TEST_F(DockerCli, OomIsReported) {
  auto r = docker_run({"--memory", "32m", "-e", "x = bytearray(300 << 20)"});
  EXPECT_EQ(r.exit_code, 137);
  EXPECT_TRUE(contains(r.err, "--- OUT OF MEMORY (limit 32m) ---")) << r.err;
}

TEST_F(DockerCli, JsonResult) {
  auto r = docker_run({"--json", "-e", "print(1)"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "\"stdout\":\"1\"")) << r.out;
  EXPECT_TRUE(contains(r.out, "\"status\":\"ok\"")) << r.out;
}

TEST_F(DockerCli, MissingImageSaysHowToImport) {
  auto r = docker_run({"--image", "isol8:not-imported", "-e", "1"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(contains(r.err, "isol8 setup --backend docker")) << r.err;
}

}  // namespace
}  // namespace isol8::test
