// `isol8 build --backend docker`: the custom root is built in the native rootfs store (as
// `isol8 build` does) and imported into the daemon as the image <tag>, with its setup script in
// a label that the docker backend runs before each request's setup. Needs the store that
// scripts/test builds (ISOL8_TEST_ROOTFS_STORE) and root.

#include <unistd.h>

#include <filesystem>

#include "backends/docker/client.h"
#include "support/test_support.h"

namespace isol8::test {
namespace {

namespace fs = std::filesystem;

class DockerBuild : public ::testing::Test {
 protected:
  void SetUp() override {
    ISOL8_REQUIRE_DOCKER();
    const char* store = std::getenv("ISOL8_TEST_ROOTFS_STORE");
    ASSERT_TRUE(store != nullptr && *store != '\0')
        << "ISOL8_TEST_ROOTFS_STORE must name the store `isol8 setup` built (scripts/test does)";
    store_ = store;
    ASSERT_TRUE(fs::exists(fs::path(store_) / "isol8:bash.json")) << store_;
    ASSERT_EQ(::geteuid(), 0u) << "isol8 build needs root";
  }

  // Public: the tests' cleanup objects call forget().
 public:
  CliRun cli(const std::vector<std::string>& args) const {
    CliOptions o = dir_.options();
    o.env["ISOL8_ROOTFS_STORE"] = store_;
    o.hang_limit = std::chrono::minutes(10);
    return run_cli_with(args, o);
  }

  bool image_exists(const std::string& name) const {
    auto client = docker::DockerClient::from_environment();
    auto i = (*client)->inspect_image(name);
    return i && i->has_value();
  }

  // Removes the image and the root of `tag`, whatever the test did.
  void forget(const std::string& tag) const {
    auto client = docker::DockerClient::from_environment();
    (void)(*client)->remove_image(tag, true);
    (void)cli({"rootfs", "rm", tag});
  }

  std::string store_;
  IsolatedCli dir_;
};

TEST_F(DockerBuild, CustomSetupImageRunsEndToEnd) {
  const std::string tag = "isol8-test-docker-setup-" + std::to_string(::getpid());
  struct Cleanup {
    const DockerBuild* t;
    std::string tag;
    ~Cleanup() { t->forget(tag); }
  } cleanup{this, tag};
  auto r = cli({"build", "--backend", "docker", "--base", "bash", "--setup",
                "echo image-setup >> /sandbox/log", "--tag", tag});
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_TRUE(contains(r.out, "[DONE] Custom image build complete!")) << describe(r);
  EXPECT_TRUE(contains(r.out, "Docker:   " + tag + ":latest")) << describe(r);
  EXPECT_TRUE(image_exists(tag)) << tag;

  // The image's setup runs first, then the request's, then the program.
  r = cli({"run", "--backend", "docker", "--image", tag, "--setup", "echo request-setup >> log",
           "--cmd", "cat /sandbox/log; id -u"});
  EXPECT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_EQ(r.out, "image-setup\nrequest-setup\n100\n");

  // The same root on the native backend behaves the same.
  r = cli({"run", "--image", tag, "--cmd", "cat /sandbox/log"});
  EXPECT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_EQ(r.out, "image-setup\n");
}

TEST_F(DockerBuild, FailingImageSetupStopsEveryRun) {
  const std::string tag = "isol8-test-docker-badsetup-" + std::to_string(::getpid());
  struct Cleanup {
    const DockerBuild* t;
    std::string tag;
    ~Cleanup() { t->forget(tag); }
  } cleanup{this, tag};
  auto r = cli({"build", "--backend", "docker", "--base", "bash", "--setup",
                "echo image setup broke >&2; exit 9", "--tag", tag});
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  r = cli({"run", "--backend", "docker", "--image", tag, "--cmd", "echo code-ran"});
  EXPECT_EQ(r.exit_code, 1) << describe(r);
  EXPECT_TRUE(contains(r.err, "Setup script failed (exit code 9): image setup broke"))
      << describe(r);
  EXPECT_FALSE(contains(r.out, "code-ran")) << describe(r);
}

TEST_F(DockerBuild, PackageThatCannotBeFetchedIsAnErrorAndNoImage) {
  const std::string tag = "isol8-test-docker-apt-" + std::to_string(::getpid());
  struct Cleanup {
    const DockerBuild* t;
    std::string tag;
    ~Cleanup() { t->forget(tag); }
  } cleanup{this, tag};
  auto r = cli({"build", "--backend", "docker", "--base", "bash", "--install",
                "isol8-no-such-package-xyz", "--tag", tag});
  EXPECT_EQ(r.exit_code, 1) << describe(r);
  EXPECT_TRUE(contains(r.err, "failed (exit code")) << describe(r);
  EXPECT_FALSE(image_exists(tag));
  EXPECT_FALSE(fs::exists(fs::path(store_) / tag));
}

TEST_F(DockerBuild, BadArgumentsAreCleanErrors) {
  auto r = cli({"build", "--backend", "vm", "--base", "bash", "--setup", "true", "--tag", "t"});
  EXPECT_EQ(r.exit_code, 1) << describe(r);
  EXPECT_TRUE(contains(r.err, "Invalid --backend value: \"vm\"")) << describe(r);
  r = cli(
      {"build", "--backend", "docker", "--base", "bash", "--setup", "true", "--tag", "Upper-Case"});
  EXPECT_EQ(r.exit_code, 1) << describe(r);
  EXPECT_TRUE(contains(r.err, "Invalid Docker image name: \"Upper-Case\"")) << describe(r);
  EXPECT_FALSE(fs::exists(fs::path(store_) / "Upper-Case"));
}

}  // namespace
}  // namespace isol8::test
