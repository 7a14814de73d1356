#pragma once
// The server cases that depend on the backend (executions over HTTP, SSE and WebSocket, sessions
// and their files, timeouts, setup scripts, signals, cleanup, shutdown) run on both backends:
// TEST_P over ServerBackendTest, instantiated with ISOL8_BACKEND_SUITE (names end in /native and
// /docker; the tier links isol8_test_backends_all). The wire, auth and policy cases do not depend
// on the backend and stay TEST_F on native only, which keeps the tier's time down.
//
// A case starts its servers with start(): `isol8 serve` with the case's backend in its config
// ("backend"), and the native id map base of the case so that LeakCheckedTest sees its sandboxes.
// TearDown stops them (each must exit 0) before the leak checks of backend_params.h: on docker,
// no isol8 container may be left on the daemon. A docker case skips, saying why, without a daemon
// that has the test images. The server tier's docker cases run alone (tests/CMakeLists.txt), as the
// docker tier does, so that the daemon-wide container count is theirs.

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "server_client.h"
#include "support/backend_params.h"

namespace isol8::test {

class ServerBackendTest : public BackendTest {
 protected:
  void SetUp() override;
  void TearDown() override;

  // A server on this case's backend with `config` (the backend and the id map base added), owned
  // by the case and stopped by TearDown unless the test stops it first.
  TestServer& start(nlohmann::json config = nlohmann::json::object(),
                    std::vector<std::string> extra_args = {});

  // The isol8 containers `server` holds now: 0 on native.
  long containers_of(const TestServer& server) const;

 private:
  std::vector<std::unique_ptr<TestServer>> servers_;
};

// One server per case, started before the case, on the case's backend with the default config.
class StartedServerTest : public ServerBackendTest {
 protected:
  void SetUp() override {
    ServerBackendTest::SetUp();
    if (IsSkipped()) return;
    server_ = &start();
    ASSERT_TRUE(server_->ready()) << "the server did not answer /health";
  }
  int port() const { return server_->port(); }
  TestServer* server_ = nullptr;
};

}  // namespace isol8::test
