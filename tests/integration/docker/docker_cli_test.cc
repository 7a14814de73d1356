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

}  // namespace
}  // namespace isol8::test
