// `isol8 rootfs import <docker-image>`: an image's filesystem, exported through the Engine API
// (a created, never started container), becomes a native root that runs; nothing is left in the
// daemon.

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <filesystem>

#include "backends/docker/client.h"
#include "support/test_support.h"

namespace isol8::test {
namespace {

class DockerRootfsImport : public ::testing::Test {
 protected:
  void SetUp() override {
    ISOL8_REQUIRE_DOCKER();
    char tmpl[] = "/tmp/isol8-import-store-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    store_ = tmpl;
    // Like /var/lib/isol8/rootfs: the sandbox's mapped root must be able to reach the roots.
    ASSERT_EQ(::chmod(tmpl, 0755), 0);
    // Each test runs in a process of its own (ctest), so the CLI it starts inherits this store.
    ::setenv("ISOL8_ROOTFS_STORE", store_.c_str(), 1);
  }
  void TearDown() override {
    std::error_code ec;
    if (!store_.empty()) std::filesystem::remove_all(store_, ec);
  }
  std::string store_;
};

TEST_F(DockerRootfsImport, ImageBecomesANativeRootThatRuns) {
  const CliResult imported =
      run_cli({"rootfs", "import", "isol8:python", "--tag", "from-docker", "--runtime", "python"});
  ASSERT_EQ(imported.exit_code, 0) << imported.err;
  EXPECT_TRUE(contains(imported.out, "Imported isol8:python as from-docker")) << imported.out;
  EXPECT_TRUE(std::filesystem::exists(store_ + "/from-docker.json"));

  const CliResult ran =
      run_cli({"run", "--no-stream", "--image", "from-docker", "-e",
               "import os, ssl; print(os.getuid(), os.path.exists('/.dockerenv'))"});
  ASSERT_EQ(ran.exit_code, 0) << ran.err;
  // Runs natively as the sandbox user in the imported files (Docker's marker file came along).
  EXPECT_EQ(ran.out, "100 True\n");

  // The export container is gone.
  auto client = docker::DockerClient::from_environment();
  ASSERT_TRUE(client);
  auto left = (*client)->list_containers(nlohmann::json{{"label", {"isol8.purpose=rootfs-export"}}},
                                         /*all=*/true);
  ASSERT_TRUE(left) << left.error().message;
  EXPECT_TRUE(left->empty()) << left->dump();
}

TEST_F(DockerRootfsImport, BadSourcesAreClearErrors) {
  const CliResult missing =
      run_cli({"rootfs", "import", "isol8:no-such-image", "--tag", "x", "--runtime", "bash"});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_TRUE(contains(missing.err, "Docker image isol8:no-such-image not found")) << missing.err;
  const CliResult both = run_cli(
      {"rootfs", "import", "isol8:bash", "--tar", "/dev/null", "--tag", "x", "--runtime", "bash"});
  EXPECT_EQ(both.exit_code, 1);
  EXPECT_TRUE(contains(both.err, "exactly one source")) << both.err;
  EXPECT_FALSE(std::filesystem::exists(store_ + "/x"));
}

}  // namespace
}  // namespace isol8::test
