#include "server_backends.h"

#include <unistd.h>

namespace isol8::test {

void ServerBackendTest::SetUp() {
  if (::geteuid() != 0) GTEST_SKIP() << "the server tier runs as root";
  BackendTest::SetUp();
}

void ServerBackendTest::TearDown() {
  // The servers go first: what they made must be gone before the leak checks look.
  for (auto& server : servers_) {
    const CliRun run = server->stop();
    EXPECT_EQ(run.exit_code, 0) << "isol8 serve: " << describe(run);
    if (is_docker()) {
      EXPECT_EQ(isol8_container_count_of(server->pid()), 0)
          << "isol8 containers of the server left on the daemon";
    }
  }
  servers_.clear();
  BackendTest::TearDown();
}

TestServer& ServerBackendTest::start(nlohmann::json config, std::vector<std::string> extra_args) {
  config["backend"] = std::string(to_string(kind()));
  config["native"]["idMapBase"] = base();
  servers_.push_back(std::make_unique<TestServer>(std::move(config), std::move(extra_args)));
  return *servers_.back();
}

long ServerBackendTest::containers_of(const TestServer& server) const {
  return is_docker() ? isol8_container_count_of(server.pid()) : 0;
}

}  // namespace isol8::test
