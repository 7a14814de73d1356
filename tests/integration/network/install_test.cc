// Run-time package installs (--install) end to end on every backend under test (the native one
// in the network tier, docker in the docker tier), against real package registries served
// inside a test "internet" (support/package_registries.h: a network namespace of this test's own
// at 203.0.113.2, reached through a veth): a PyPI "simple" index holding a wheel the test builds,
// an npm registry holding a packument and a tarball made with `npm pack`, and a flat Debian
// repository. pip, npm and apt reach them through the filtered network's proxy (the CLI resolves
// the test names through a hosts file bind-mounted in a mount namespace), pointed there by
// PIP_INDEX_URL / npm_config_registry / ISOL8_APT_SOURCES. Nothing leaves the machine.

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "isol8/engine.h"
#include "network_fixture.h"
#include "support/package_registries.h"
#include "support/test_support.h"

namespace isol8::test {
namespace {

// The registries' /24 (a documentation range): the host end .1, the registries .2.
constexpr const char* kRegistrySubnet = "203.0.113";

class Installs : public ::testing::TestWithParam<BackendKind> {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) {
      GTEST_SKIP() << "the test internet (a veth, a hosts file bind-mounted in a mount "
                      "namespace) needs root; scripts/test runs this tier as root";
    }
    if (docker()) {
      if (const auto why = docker_unavailable_reason(); !why.empty()) {
        GTEST_SKIP() << "docker backend unavailable: " << why;
      }
      containers_before_ = isol8_container_count();
    } else if (const auto why = sandbox_unavailable_reason(); !why.empty()) {
      GTEST_SKIP() << why;
    }
    if (sh("/usr/bin/python3 -m pip --version >/dev/null 2>&1") != 0) {
      GTEST_SKIP() << "pip is not installed on the host (scripts/deps installs python3-pip)";
    }
    ::mkdir(dir_.file("tmp").c_str(), 0700);
    auto registries = PackageRegistries::start(dir_.path(), kRegistrySubnet);
    ASSERT_TRUE(registries) << "could not serve the registries: " << registries.error().message;
    registries_ = std::move(registries).value();
    has_npm_ = registries_->has_npm();
  }

  void TearDown() override {
    if (IsSkipped()) return;
    registries_.reset();
    const auto left = network_leftovers_settled();
    EXPECT_TRUE(left.empty()) << ::testing::PrintToString(left);
    if (docker()) {
      EXPECT_EQ(isol8_container_count(), containers_before_) << "isol8 containers left behind";
    }
  }

  bool docker() const { return GetParam() == BackendKind::kDocker; }

  // The CLI in a mount namespace whose /etc/hosts names the registries, with the mirrors set.
  CliOptions options() const {
    CliOptions o;
    o.cwd = dir_.path();
    o.env["HOME"] = dir_.path();
    o.env["TMPDIR"] = dir_.file("tmp");
    o.env["ISOL8_RELAY"] = kRelayBinary;
    o.env.merge(registries_->mirror_env());
    o.launcher = registries_->hosts_launcher();
    return o;
  }

  CliRun cli(std::vector<std::string> args, CliOptions o) const {
    const auto flags = backend_cli_flags(GetParam());
    args.insert(args.begin(), flags.begin(), flags.end());
    args.insert(args.begin(), "run");
    return run_cli_with(args, std::move(o));
  }
  CliRun cli(std::vector<std::string> args) const { return cli(std::move(args), options()); }

  std::string requests() const { return registries_->requests(); }

  TempDir dir_;
  std::unique_ptr<PackageRegistries> registries_;
  bool has_npm_ = false;
  long containers_before_ = 0;
};

// Bash installs need a runtime root with a package database, and bun and deno are not on the
// host: the native backend's store (built by `isol8 setup` before this tier), or the docker
// images made from it.
#define ISOL8_REQUIRE_RUNTIME_ROOTS()                                                        \
  if (!docker() && std::getenv("ISOL8_TEST_ROOTFS_STORE") == nullptr)                        \
  GTEST_SKIP() << "ISOL8_TEST_ROOTFS_STORE is not set: this install needs the roots `isol8 " \
                  "setup` builds (scripts/test builds them before this tier)"

#define ISOL8_REQUIRE_NPM() \
  if (!has_npm_) GTEST_SKIP() << "npm is not installed on the host (/usr/bin/npm, with node)"

TEST_P(Installs, PythonPackageFromTheIndexImports) {
  const CliRun r = cli({"--install", kWheelPackage, "-e",
                        "import isol8_test_pkg; print(isol8_test_pkg.greet('python'))"});
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_TRUE(contains(r.out, "hello python from the wheel")) << describe(r);
  // pip's own output is the setup phase's, streamed before the program's.
  EXPECT_TRUE(contains(r.out, "Successfully installed isol8-test-pkg-1.0.0")) << describe(r);
  EXPECT_LT(r.out.find("Successfully installed"), r.out.find("hello python")) << describe(r);
  EXPECT_TRUE(contains(requests(), "/simple/isol8-test-pkg/")) << requests();
  EXPECT_TRUE(contains(requests(), "/packages/isol8_test_pkg-1.0.0-py3-none-any.whl"))
      << requests();
}

TEST_P(Installs, NodePackageFromTheRegistryRequires) {
  ISOL8_REQUIRE_NPM();
  const CliRun r = cli({"-r", "node", "--install", kNpmPackage, "-e",
                        "console.log(require('isol8-test-dep').greet('node'))"});
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_TRUE(contains(r.out, "hello node from the tarball")) << describe(r);
  EXPECT_TRUE(contains(requests(), std::string("/") + kNpmPackage)) << requests();
}

TEST_P(Installs, InstallThenSetupScriptThenCodeInThatOrder) {
  const CliRun r = cli({"--install", kWheelPackage, "--setup",
                        "python3 -c 'import isol8_test_pkg; print(\"setup sees\", "
                        "isol8_test_pkg.greet(\"setup\"))'",
                        "-e", "print('code runs')"});
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  const auto installed = r.out.find("Successfully installed");
  const auto setup = r.out.find("setup sees hello setup from the wheel");
  const auto code = r.out.find("code runs");
  ASSERT_NE(installed, std::string::npos) << describe(r);
  ASSERT_NE(setup, std::string::npos) << describe(r);
  ASSERT_NE(code, std::string::npos) << describe(r);
  EXPECT_LT(installed, setup);
  EXPECT_LT(setup, code);
}

TEST_P(Installs, AMissingPackageFailsWithTheInstallMessage) {
  const CliRun r = cli({"--install", "isol8-no-such-package", "-e", "print('never')"});
  EXPECT_EQ(r.exit_code, 1) << describe(r);
  EXPECT_TRUE(contains(r.err, "[ERR] Package install failed (exit code 1): ")) << describe(r);
  EXPECT_TRUE(contains(r.err, "No matching distribution found for isol8-no-such-package"))
      << describe(r);
  EXPECT_FALSE(contains(r.out, "never")) << describe(r);

  // The same through --json: the error object, exit 1.
  ISOL8_REQUIRE_NPM();
  const CliRun j = cli({"--json", "-r", "node", "--install", "isol8-no-such-dep", "-e", "1"});
  EXPECT_EQ(j.exit_code, 1) << describe(j);
  const auto parsed = nlohmann::json::parse(j.out, nullptr, false);
  ASSERT_TRUE(parsed.is_object()) << describe(j);
  EXPECT_TRUE(
      parsed.value("error", std::string()).starts_with("Package install failed (exit code "))
      << describe(j);
}

TEST_P(Installs, BadNamesAreRefusedBeforeAnythingRuns) {
  for (const std::string& bad :
       std::vector<std::string>{"x;touch /tmp/pwned", "$(id)", "--index-url=http://other.test/",
                                "six @ http://other.test/x.whl", "-r/etc/passwd"}) {
    const CliRun r = cli({"--install", bad, "-e", "print('never')"});
    EXPECT_EQ(r.exit_code, 1) << describe(r);
    EXPECT_TRUE(contains(r.err, "[ERR] Invalid package name for python: \"" + bad + "\""))
        << describe(r);
    EXPECT_FALSE(contains(r.out, "never")) << describe(r);
  }
  const CliRun n = cli({"-r", "node", "--install", "a;b", "-e", "1"});
  EXPECT_TRUE(contains(n.err, "[ERR] Invalid package name for node: \"a;b\"")) << describe(n);
  EXPECT_EQ(requests(), "") << "a refused install reached the registry";
}

TEST_P(Installs, NetNoneIsRefusedWithTheReason) {
  for (const std::vector<std::string>& net :
       {std::vector<std::string>{"--net", "none"}, std::vector<std::string>{"--net=none"}}) {
    std::vector<std::string> args = net;
    args.insert(args.end(), {"--install", kWheelPackage, "-e", "print('never')"});
    const CliRun r = cli(args);
    EXPECT_EQ(r.exit_code, 1) << describe(r);
    EXPECT_TRUE(contains(r.err,
                         "Package installs need the network to reach the package "
                         "registry, but the network mode is \"none\""))
        << describe(r);
  }
  EXPECT_EQ(requests(), "");
}

TEST_P(Installs, AnInstallCannotReachAHostOutsideTheRegistryList) {
  // The allowed registry is registry.test only: the index on pypi.test is refused by the proxy.
  CliOptions o = options();
  o.env["ISOL8_INSTALL_HOSTS"] = "^registry\\.test$";
  const CliRun r = cli({"--install", kWheelPackage, "-e", "print('never')"}, o);
  EXPECT_EQ(r.exit_code, 1) << describe(r);
  EXPECT_TRUE(contains(r.err, "[ERR] Package install failed (exit code 1)")) << describe(r);
  EXPECT_FALSE(contains(requests(), "/simple/")) << requests();
}

TEST_P(Installs, TheInstallHasItsOwnTimeLimit) {
  const CliRun r =
      cli({"--timeout", "2000", "--install", "isol8-slow-package", "-e", "print('never')"});
  EXPECT_EQ(r.exit_code, 1) << describe(r);
  EXPECT_TRUE(
      contains(r.err, "[ERR] Package install failed (exit code 137): timed out after 2000 ms"))
      << describe(r);
  EXPECT_TRUE(contains(requests(), "slow")) << requests();
}

// The library's stream: the install's output comes with phase "setup", the program's with
// "code". Host network here (the library caller has no hosts file), the index by address.
TEST_P(Installs, StreamedInstallOutputHasPhaseSetup) {
  Options options = backend_options(GetParam(), Options{}.native.id_map_base);
  options.network = NetworkMode::kHost;
  options.timeout_ms = 60000;
  auto engine = Engine::create(options);
  ASSERT_TRUE(engine) << engine.error().message;
  ExecutionRequest request;
  request.runtime = "python";
  request.code = "import isol8_test_pkg; print(isol8_test_pkg.greet('stream'))";
  request.install_packages = {kWheelPackage};
  // The mirror variables are read from the caller's environment when the run is prepared.
  ::setenv("PIP_INDEX_URL", ("http://" + registries_->address() + "/simple/").c_str(), 1);
  ::setenv("PIP_TRUSTED_HOST", registries_->address().c_str(), 1);
  std::vector<StreamEvent> events;
  auto result = (*engine)->execute_stream(
      request, [&](const StreamEvent& e) { events.push_back(e); }, RunControl{});
  ::unsetenv("PIP_INDEX_URL");
  ::unsetenv("PIP_TRUSTED_HOST");
  ASSERT_TRUE(result) << result.error().message;
  std::string setup_out, code_out;
  for (const auto& e : events) {
    if (e.type != StreamEvent::Type::kStdout) continue;
    (e.phase == "setup" ? setup_out : code_out) += e.data;
  }
  EXPECT_TRUE(contains(setup_out, "Successfully installed isol8-test-pkg-1.0.0")) << setup_out;
  EXPECT_FALSE(contains(setup_out, "hello stream")) << setup_out;
  EXPECT_TRUE(contains(code_out, "hello stream from the wheel")) << code_out;
  EXPECT_FALSE(contains(code_out, "Successfully installed")) << code_out;
  EXPECT_EQ(result->exit_code, 0);
}

// Options for a run in the store's runtime roots (a bash install goes to the test's Debian
// repository: the mirror variables name it).
CliOptions rootfs_options(CliOptions o) {
  if (const char* store = std::getenv("ISOL8_TEST_ROOTFS_STORE")) {
    o.env["ISOL8_ROOTFS_STORE"] = store;
  }
  return o;
}

// Bun installs into its global directory, which the code finds through NODE_PATH; both read
// the mirror as npm_config_registry.
TEST_P(Installs, BunPackageFromTheRegistryRequires) {
  ISOL8_REQUIRE_NPM();
  ISOL8_REQUIRE_RUNTIME_ROOTS();
  const CliRun r = cli({"-r", "bun", "--install", kNpmPackage, "-e",
                        "import { greet } from 'isol8-test-dep'; console.log(greet('bun'))"},
                       rootfs_options(options()));
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_TRUE(contains(r.out, "hello bun from the tarball")) << describe(r);
  EXPECT_LT(r.out.find("installed isol8-test-dep@1.0.0"), r.out.find("hello bun")) << describe(r);
  EXPECT_TRUE(contains(requests(), "/tarballs/isol8-test-dep-1.0.0.tgz")) << requests();
}

// `deno cache` fetches an npm: specifier from the mirror given as npm_config_registry (Deno
// itself reads only NPM_CONFIG_REGISTRY), and the code finds it in the cache: one download.
TEST_P(Installs, DenoNpmSpecifierFromTheRegistryImports) {
  ISOL8_REQUIRE_NPM();
  ISOL8_REQUIRE_RUNTIME_ROOTS();
  const CliRun r = cli({"-r", "deno", "--install", std::string("npm:") + kNpmPackage, "-e",
                        "import m from 'npm:isol8-test-dep'; console.log(m.greet('deno'))"},
                       rootfs_options(options()));
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_TRUE(contains(r.out, "hello deno from the tarball")) << describe(r);
  EXPECT_TRUE(contains(r.err, "http://registry.test/tarballs/isol8-test-dep-1.0.0.tgz"))
      << describe(r);
  const std::string asked = requests();
  const std::string tarball = "/tarballs/isol8-test-dep-1.0.0.tgz";
  ASSERT_TRUE(contains(asked, tarball)) << asked;
  EXPECT_EQ(asked.find(tarball), asked.rfind(tarball)) << "fetched twice: " << asked;
}

TEST_P(Installs, DebianPackagesForBashComeWithTheirLibraries) {
  ISOL8_REQUIRE_RUNTIME_ROOTS();
  const CliRun r = cli({"-r", "bash", "--install", "isol8-greet", "-e",
                        "isol8-greet; echo \"bash ${BASH_VERSINFO[0]} at $(command -v bash)\""},
                       rootfs_options(options()));
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_TRUE(contains(r.out, "hello from the library of a deb")) << describe(r);
  // The dependency the root has (bash) keeps the root's version, never the downloaded one.
  EXPECT_TRUE(contains(r.out, "isol8: bash is installed in the root; the root's version is kept"))
      << describe(r);
  EXPECT_TRUE(contains(r.out, "bash 5 at /usr/bin/bash")) << describe(r);
  EXPECT_FALSE(contains(r.out, "fake bash")) << describe(r);
  // The install's output is the setup phase's, before the program's.
  EXPECT_LT(r.out.find("unpacked isol8-greet"), r.out.find("hello from the library"))
      << describe(r);
  EXPECT_TRUE(contains(requests(), "isol8-greet_1.0_")) << requests();
  EXPECT_TRUE(contains(requests(), "libisol8greet1_1.0_")) << requests();
}

TEST_P(Installs, DebianInstallFailuresAndBadNames) {
  ISOL8_REQUIRE_RUNTIME_ROOTS();
  const CliRun missing = cli({"-r", "bash", "--install", "isol8-no-such-deb", "-e", "echo never"},
                             rootfs_options(options()));
  EXPECT_EQ(missing.exit_code, 1) << describe(missing);
  EXPECT_TRUE(contains(missing.err, "[ERR] Package install failed (exit code 100): "))
      << describe(missing);
  EXPECT_TRUE(contains(missing.err, "Unable to locate package isol8-no-such-deb"))
      << describe(missing);
  EXPECT_FALSE(contains(missing.out, "never")) << describe(missing);

  const size_t asked = requests().size();
  for (const std::string& bad :
       std::vector<std::string>{"jq;id", "-o=Dir::Etc=/tmp", "Jq", "a b"}) {
    const CliRun r =
        cli({"-r", "bash", "--install", bad, "-e", "echo never"}, rootfs_options(options()));
    EXPECT_EQ(r.exit_code, 1) << describe(r);
    EXPECT_TRUE(contains(r.err, "[ERR] Invalid package name for bash: \"" + bad + "\""))
        << describe(r);
  }
  EXPECT_EQ(requests().size(), asked) << "a refused install reached the repository";

  // Without a runtime root (the host's system directories) there is no package database.
  if (!docker()) {
    CliOptions o = rootfs_options(options());
    o.env["ISOL8_ROOTFS_STORE"] = dir_.file("no-store");
    const CliRun host = cli({"-r", "bash", "--install", "isol8-greet", "-e", "echo never"}, o);
    EXPECT_EQ(host.exit_code, 1) << describe(host);
    EXPECT_TRUE(contains(host.err, "Package installs for bash need a runtime root"))
        << describe(host);
  }
}

// A persistent session: packages installed by one execution are there in the next, which
// installs nothing; a failed install in the session is reported and leaves the session usable.
TEST_P(Installs, PackagesPersistInASession) {
  Options options = backend_options(GetParam(), Options{}.native.id_map_base);
  options.mode = EngineMode::kPersistent;
  options.network = NetworkMode::kHost;
  options.timeout_ms = 60000;
  auto engine = Engine::create(options);
  ASSERT_TRUE(engine) << engine.error().message;
  ::setenv("PIP_INDEX_URL", ("http://" + registries_->address() + "/simple/").c_str(), 1);
  ::setenv("PIP_TRUSTED_HOST", registries_->address().c_str(), 1);
  ExecutionRequest install;
  install.runtime = "python";
  install.code = "import isol8_test_pkg; print(isol8_test_pkg.greet('step one'))";
  install.install_packages = {kWheelPackage};
  auto first = (*engine)->execute(install);
  ExecutionRequest missing = install;
  missing.install_packages = {"isol8-no-such-package"};
  missing.code = "print('never')";
  auto failed = (*engine)->execute(missing);
  ::unsetenv("PIP_INDEX_URL");
  ::unsetenv("PIP_TRUSTED_HOST");
  ASSERT_TRUE(first) << first.error().message;
  EXPECT_EQ(first->exit_code, 0) << first->stderr_data;
  EXPECT_TRUE(contains(requests(), "/packages/isol8_test_pkg-1.0.0-py3-none-any.whl"))
      << requests();
  EXPECT_TRUE(contains(first->stdout_data, "hello step one from the wheel")) << first->stdout_data;
  ASSERT_FALSE(failed) << "an install of a missing package succeeded: " << failed->stdout_data;
  EXPECT_TRUE(failed.error().message.starts_with("Package install failed (exit code 1)"))
      << failed.error().message;

  const size_t asked = requests().size();
  ExecutionRequest again;
  again.runtime = "python";
  again.code = "import isol8_test_pkg; print(isol8_test_pkg.greet('step three'))";
  auto third = (*engine)->execute(again);
  ASSERT_TRUE(third) << third.error().message;
  EXPECT_EQ(third->exit_code, 0) << third->stderr_data;
  EXPECT_TRUE(contains(third->stdout_data, "hello step three from the wheel"))
      << third->stdout_data;
  EXPECT_EQ(requests().size(), asked) << "the third execution installed again: " << requests();
  (*engine)->stop();
}

// Debian packages a session's execution installed are on PATH and LD_LIBRARY_PATH for the
// session's later executions; a bash run without installs has neither.
TEST_P(Installs, DebianPackagesPersistInASession) {
  ISOL8_REQUIRE_RUNTIME_ROOTS();
  Options options = backend_options(GetParam(), Options{}.native.id_map_base);
  options.mode = EngineMode::kPersistent;
  options.network = NetworkMode::kHost;
  options.timeout_ms = 60000;
  if (const char* store = std::getenv("ISOL8_TEST_ROOTFS_STORE")) options.rootfs_store = store;
  auto engine = Engine::create(options);
  ASSERT_TRUE(engine) << engine.error().message;
  const std::string sources = "deb [trusted=yes] http://" + registries_->address() + "/debian ./";
  ::setenv("ISOL8_APT_SOURCES", sources.c_str(), 1);
  ExecutionRequest install;
  install.runtime = "bash";
  install.code = "isol8-greet";
  install.install_packages = {"isol8-greet"};
  auto first = (*engine)->execute(install);
  ::unsetenv("ISOL8_APT_SOURCES");
  ASSERT_TRUE(first) << first.error().message;
  EXPECT_EQ(first->stdout_data, "hello from the library of a deb") << first->stderr_data;
  ExecutionRequest later;
  later.runtime = "bash";
  later.code = "isol8-greet; echo \"$LD_LIBRARY_PATH\" | grep -c /sandbox/.deb";
  auto second = (*engine)->execute(later);
  ASSERT_TRUE(second) << second.error().message;
  EXPECT_EQ(second->exit_code, 0) << second->stderr_data;
  EXPECT_EQ(second->stdout_data, "hello from the library of a deb\n1") << second->stderr_data;
  (*engine)->stop();

  Options plain = backend_options(GetParam(), Options{}.native.id_map_base);
  if (const char* store = std::getenv("ISOL8_TEST_ROOTFS_STORE")) plain.rootfs_store = store;
  auto one_shot = Engine::create(plain);
  ASSERT_TRUE(one_shot) << one_shot.error().message;
  ExecutionRequest env;
  env.runtime = "bash";
  env.code = "echo \"path=$PATH ld=${LD_LIBRARY_PATH:-unset}\"";
  auto shown = (*one_shot)->execute(env);
  ASSERT_TRUE(shown) << shown.error().message;
  EXPECT_FALSE(contains(shown->stdout_data, "/sandbox/.deb")) << shown->stdout_data;
  EXPECT_TRUE(contains(shown->stdout_data, "ld=unset")) << shown->stdout_data;
}

INSTANTIATE_TEST_SUITE_P(Backends, Installs, ::testing::ValuesIn(backends_under_test()),
                         BackendParamName());

}  // namespace
}  // namespace isol8::test
