// The program's environment, on every backend: the host's variables stay out, the request's
// env and secrets reach it (with the secret masked on the way out).

#include <signal.h>
#include <stdlib.h>

#include <array>
#include <set>
#include <sstream>

#include <linux/securebits.h>

#include "support/test_support.h"

namespace isol8::test {
namespace {

using nlohmann::json;

constexpr const char* kHostMarker = "ISOL8_TEST_HOST_MARKER";

class Environment : public BackendTest {};

TEST_P(Environment, HostVariablesDoNotLeakThroughTheCli) {
  CliOptions opts = cli().options();
  opts.env[std::string(kHostMarker)] = "host-value-must-not-leak";
  opts.env["LD_PRELOAD"] = "";
  const CliRun r = run_cli_with(cli().args({"run", "--cmd", "env"}), opts);
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_FALSE(contains(r.out, kHostMarker)) << r.out;
  EXPECT_FALSE(contains(r.out, "host-value-must-not-leak")) << r.out;
  EXPECT_FALSE(contains(r.out, "LD_PRELOAD")) << r.out;
  EXPECT_FALSE(contains(r.out, "HOME=" + cli().dir().path())) << r.out;
  EXPECT_TRUE(contains(r.out, "HOME=/sandbox\n")) << r.out;
}

// The request's env and the secrets reach the program; the secret's value is masked on the way
// out.
TEST_P(Environment, RequestEnvAndSecretsReachTheProgram) {
  Options o = options();
  o.secrets["API_TOKEN"] = "sk-secret-value";
  ExecutionRequest req = bash_request("echo \"$MY_VAR|$API_TOKEN|$HOME|$USER|$TMPDIR\"");
  req.env["MY_VAR"] = "my value";
  auto r = execute_once(o, req);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->stdout_data, "my value|***|/sandbox|sandbox|/tmp");
}

ISOL8_BACKEND_SUITE(Environment);

}  // namespace
}  // namespace isol8::test
