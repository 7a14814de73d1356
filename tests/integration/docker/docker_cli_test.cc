// `isol8 run --backend docker` end to end through the real CLI, for what only the docker backend
// has. The common behaviour (exit codes, stdin, timeout, truncation, secrets, workdir, files,
// setup, limits, JSON) is the behaviour suite of tests/integration/native, which runs on both
// backends (tests/support/backend_params.h).

#include <gtest/gtest.h>

#include "support/test_support.h"

namespace isol8::test {
namespace {

CliResult docker_run(std::vector<std::string> args, const std::string& input = "") {
  args.insert(args.begin(), "run");
  const std::vector<std::string> flags = backend_cli_flags(BackendKind::kDocker);
  args.insert(args.begin() + 1, flags.begin(), flags.end());
  return run_cli(args, input);
}

class DockerCli : public ::testing::Test {
 protected:
  void SetUp() override { ISOL8_REQUIRE_DOCKER(); }
};

TEST_F(DockerCli, RootIsReadOnlyAndTmpIsNoexec) {
  auto r = docker_run({"--cmd",
                       "touch /etc/x 2>/dev/null && echo root-writable; cp /bin/true /tmp/t && "
                       "/tmp/t 2>/dev/null && echo tmp-exec; cp /bin/true /sandbox/t && /sandbox/t "
                       "&& echo sandbox-exec"});
  EXPECT_EQ(r.out, "sandbox-exec\n") << r.err;
}

TEST_F(DockerCli, MissingImageSaysHowToImport) {
  auto r = docker_run({"--image", "isol8:not-imported", "-e", "1"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(contains(r.err, "isol8 setup --backend docker")) << r.err;
}

// --persist leaves the container running after the run, says how to reach and remove it, and no
// later runner reclaims it (it has no owner); the user removes it.
TEST_F(DockerCli, PersistKeepsTheContainerAndSaysHowToReachIt) {
  auto r = docker_run({"--persist", "-r", "bash", "-e", "echo kept > /sandbox/mark; echo ran"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "ran\n");
  const std::string marker = "[INFO] Sandbox kept for inspection: container ";
  const auto at = r.err.find(marker);
  ASSERT_NE(at, std::string::npos) << r.err;
  const std::string id = r.err.substr(at + marker.size(), 12);
  EXPECT_TRUE(contains(r.err, "docker exec -it " + id + " bash")) << r.err;
  EXPECT_TRUE(contains(r.err, "docker rm -f " + id)) << r.err;
  // Another run (whose reclaim of killed runs' containers runs first) leaves it alone.
  EXPECT_EQ(docker_run({"-r", "bash", "-e", "true"}).exit_code, 0);
  EXPECT_EQ(sh_out("docker exec " + id + " cat /sandbox/mark"), "kept\n");
  EXPECT_EQ(sh("docker rm -f " + id + " >/dev/null"), 0);
}

}  // namespace
}  // namespace isol8::test
