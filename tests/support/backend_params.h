#pragma once
// The one backend parametrisation of the suites that run on every backend (the behaviour suite,
// tests/integration/behaviour; the security suite; the network modes suite).
//
// A suite is written once, as TEST_P over a BackendKind, and instantiated with
// ISOL8_BACKEND_SUITE(fixture) (cases ".../native", ".../docker") or ISOL8_BACKEND_CASES(prefix,
// fixture, cases, name_of) (cases "..._<backend>"). Which backends a test binary runs is chosen
// where it is linked, not by gtest filters: each binary links exactly one of
//   isol8_test_backends_native   native only (the native, network tiers)
//   isol8_test_backends_docker   docker only (the docker tier, alone and serial)
//   isol8_test_backends_all      both (the security tier)
// which defines backends_under_test(). tests/CMakeLists.txt does this (isol8_test_tier BACKENDS).
//
// BackendTest (TEST_P) is LeakCheckedTest for one backend: cli().run() adds `--backend <name>`
// after "run"; options() selects the backend. A docker case needs a daemon with the test images
// (docker_ready.h) and is skipped, saying why, without one; it also checks that no isol8
// container is left on the daemon. Where a backend differs for a real reason, the test says so
// next to a per-backend expectation (is_docker()).

#include <cstdint>
#include <memory>
#include <ostream>
#include <string>
#include <tuple>
#include <vector>

#include <gtest/gtest.h>

#include "isol8/engine.h"
#include "support/cli.h"
#include "support/docker_ready.h"
#include "support/remote_server.h"
#include "support/sandbox_fixtures.h"

namespace isol8::test {

// The backends this test binary's backend suites run on (see above: defined by the link).
std::vector<BackendKind> backends_under_test();

// Test-name suffix: ".../native", ".../docker".
struct BackendParamName {
  std::string operator()(const ::testing::TestParamInfo<BackendKind>& info) const {
    return to_string(info.param);
  }
};

// Engine options selecting `kind`. `id_map_base` keeps this test process's sandbox users apart
// from those of other test processes (the native backend's uid range; docker ignores it).
Options backend_options(BackendKind kind, uint32_t id_map_base);

// The CLI flags selecting `kind` (they go after "run").
std::vector<std::string> backend_cli_flags(BackendKind kind);

// "" when runs on `kind` can happen here (sandboxes can be made, or docker is ready, and an
// engine can be created), else why not.
std::string backend_unavailable_reason(BackendKind kind, uint32_t id_map_base);

// How the CLI suites reach a backend: directly (`run --backend <kind>`), or through `isol8 serve`
// on that backend (`run --host <url> --key <key>`, the server started by the test), so that local
// and remote runs cannot drift apart.
struct CliBackend {
  BackendKind kind = BackendKind::kNative;
  bool remote = false;
};

// backends_under_test(), each directly, plus native through a server where native is one of them.
std::vector<CliBackend> cli_backends_under_test();

// Test-name suffix: "native", "docker", "remote".
std::string to_string(const CliBackend& backend);
// gtest prints the parameter by name, not as bytes.
inline void PrintTo(const CliBackend& backend, std::ostream* os) { *os << to_string(backend); }

// The CLI of a LeakCheckedTest with the backend's flags inserted after "run".
class BackendCli {
 public:
  BackendCli(const IsolatedCli& cli, std::vector<std::string> run_flags)
      : cli_(cli), flags_(std::move(run_flags)) {}
  const TempDir& dir() const { return cli_.dir(); }
  CliOptions options(std::string input = "") const { return cli_.options(std::move(input)); }
  std::vector<std::string> args(std::vector<std::string> a) const;
  CliRun run(const std::vector<std::string>& a, std::string input = "") const {
    return cli_.run(args(a), std::move(input));
  }

 private:
  const IsolatedCli& cli_;
  std::vector<std::string> flags_;
};

// LeakCheckedTest for one backend; the backend comes from kind() of the concrete fixture.
class BackendTestBase : public LeakCheckedTest {
 protected:
  virtual BackendKind kind() const = 0;

  void SetUp() override;
  void TearDown() override;

  // Docker cases leave out the mounts of containers (overlay roots, network namespaces, shm),
  // which any Docker daemon on the machine makes in the host's mount table while its containers
  // run (other daemons too); this daemon's containers are counted by the container check.
  size_t counted_mounts() const override;

  bool is_docker() const { return kind() == BackendKind::kDocker; }
  // Whether this caller's runs get every cgroup limit (memory, pids, cpu): an unprivileged user
  // without a delegated cgroup runs without them, and is told so. Cases about the limits (OOM,
  // a fork bomb) skip then with ISOL8_REQUIRE_LIMITS(); the root tiers run them.
  bool limits_enforced() const;
  BackendCli cli() const { return BackendCli(LeakCheckedTest::cli(), run_flags()); }
  // The flags `run` gets (after "run").
  virtual std::vector<std::string> run_flags() const { return backend_cli_flags(kind()); }
  Options options() const { return backend_options(kind(), base()); }

 private:
  long containers_before_ = 0;
};

// A behaviour test over backends_under_test().
class BackendTest : public BackendTestBase, public ::testing::WithParamInterface<BackendKind> {
 protected:
  BackendKind kind() const override { return GetParam(); }
};

// A behaviour test over backends x cases; names end in _<backend>.
template <class Case>
class BackendCaseTest : public BackendTestBase,
                        public ::testing::WithParamInterface<std::tuple<BackendKind, Case>> {
 protected:
  BackendKind kind() const override { return std::get<0>(this->GetParam()); }
  const Case& param() const { return std::get<1>(this->GetParam()); }
};

// BackendTestBase for the CLI suites, whose tests only drive the CLI: on a remote CliBackend,
// SetUp starts the server (in the test's directory, with its config) and `run` goes through it.
class CliBackendBase : public BackendTestBase {
 protected:
  virtual const CliBackend& backend() const = 0;
  BackendKind kind() const override { return backend().kind; }
  bool is_remote() const { return backend().remote; }
  std::vector<std::string> run_flags() const override;
  void SetUp() override;
  // Stops the server first: its sandboxes must be gone before the leak check.
  void TearDown() override;

 private:
  std::unique_ptr<RemoteServer> server_;
};

// A CLI behaviour test over cli_backends_under_test().
class CliBackendTest : public CliBackendBase, public ::testing::WithParamInterface<CliBackend> {
 protected:
  const CliBackend& backend() const override { return GetParam(); }
};

// A CLI behaviour test over CLI backends x cases; names end in _<backend>.
template <class Case>
class CliBackendCaseTest : public CliBackendBase,
                           public ::testing::WithParamInterface<std::tuple<CliBackend, Case>> {
 protected:
  const CliBackend& backend() const override { return std::get<0>(this->GetParam()); }
  const Case& param() const { return std::get<1>(this->GetParam()); }
};

}  // namespace isol8::test

// Instantiates a CliBackendTest suite once per CLI backend (the backends, and remote).
#define ISOL8_CLI_SUITE(fixture)                                                          \
  INSTANTIATE_TEST_SUITE_P(Backends, fixture,                                             \
                           ::testing::ValuesIn(::isol8::test::cli_backends_under_test()), \
                           [](const auto& info) { return ::isol8::test::to_string(info.param); })

// Instantiates a CliBackendCaseTest with `cases` and `name_of(case)`.
#define ISOL8_CLI_CASES(prefix, fixture, cases, name_of)                                        \
  INSTANTIATE_TEST_SUITE_P(                                                                     \
      prefix, fixture,                                                                          \
      ::testing::Combine(::testing::ValuesIn(::isol8::test::cli_backends_under_test()), cases), \
      [](const auto& info) {                                                                    \
        return std::string(name_of(std::get<1>(info.param))) + "_" +                            \
               ::isol8::test::to_string(std::get<0>(info.param));                               \
      })

// In a BackendTestBase case: skips (saying why) where runs get no cgroup limits.
#define ISOL8_REQUIRE_LIMITS()                                                              \
  do {                                                                                      \
    if (!limits_enforced())                                                                 \
      GTEST_SKIP() << "no cgroup limits for this user (no delegated cgroup); the root run " \
                      "of the suite covers this case";                                      \
  } while (0)

// Instantiates a TEST_P suite over BackendKind once per backend of backends_under_test().
#define ISOL8_BACKEND_SUITE(fixture)                                                  \
  INSTANTIATE_TEST_SUITE_P(Backends, fixture,                                         \
                           ::testing::ValuesIn(::isol8::test::backends_under_test()), \
                           ::isol8::test::BackendParamName())

// Instantiates a BackendCaseTest with `cases` (a ::testing::Values(...)) and `name_of(case)`.
#define ISOL8_BACKEND_CASES(prefix, fixture, cases, name_of)                                \
  INSTANTIATE_TEST_SUITE_P(                                                                 \
      prefix, fixture,                                                                      \
      ::testing::Combine(::testing::ValuesIn(::isol8::test::backends_under_test()), cases), \
      [](const auto& info) {                                                                \
        return std::string(name_of(std::get<1>(info.param))) + "_" +                        \
               std::string(::isol8::to_string(std::get<0>(info.param)));                    \
      })
