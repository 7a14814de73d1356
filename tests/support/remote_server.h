#pragma once
// `isol8 serve` for the remote kind of the CLI suites (backend_params.h): on a free loopback port,
// started in a test's own directory so that it reads that test's isol8.config.json (its sandboxes
// then use the test's id map base, and the test's leak checks see them), stopped with SIGTERM and
// waited for by the destructor.

#include <optional>
#include <string>

#include "support/cli.h"

namespace isol8::test {

class RemoteServer {
 public:
  static constexpr const char* kKey = "remote-suite-key-0123456789";

  explicit RemoteServer(const std::string& dir);
  ~RemoteServer();
  RemoteServer(const RemoteServer&) = delete;
  RemoteServer& operator=(const RemoteServer&) = delete;

  // "" when the server answers, else why not.
  const std::string& failure() const { return failure_; }
  std::string url() const;
  // The CLI flags that run against this server (they go after "run").
  std::vector<std::string> run_flags() const;
  // SIGTERM, then the server's output (once).
  CliRun stop();

 private:
  int port_ = 0;
  std::optional<CliProcess> process_;
  std::optional<CliRun> stopped_;
  std::string failure_;
};

}  // namespace isol8::test
