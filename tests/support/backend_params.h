#pragma once
// The behaviour suite (tests/integration/native) runs against every backend: a test written with
// BackendTest (TEST_P, instantiated with ISOL8_BACKEND_SUITE) runs once on the native backend
// and once on the Docker backend, through the same CLI and library calls (cli().run() adds
// `--backend <name>` after "run"; options() selects the backend).
//
// The docker cases need a daemon at DOCKER_HOST with the isol8:python, isol8:bash and isol8:node
// images; without them they are skipped with the reason (scripts/test provides both, and ctest
// runs them in the `docker` tier: tests/CMakeLists.txt discovers the */docker cases of the
// native binary separately, serially, under that label). They also check that no isol8
// container is left on the daemon.
//
// Where a backend differs for a real reason, the test says so next to a per-backend
// expectation (is_docker()).

#include <cstdlib>
#include <map>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include <gtest/gtest.h>

#include "backends/docker/client.h"
#include "isol8/engine.h"
#include "support/native_helpers.h"

namespace isol8::test {

inline std::vector<BackendKind> behaviour_backends() {
  return {BackendKind::kNative, BackendKind::kDocker};
}

// "" when docker runs can happen here, else why not. Asked once per test process.
inline std::string docker_unavailable_reason() {
  static const std::string reason = []() -> std::string {
    auto client = docker::DockerClient::from_environment();
    if (!client) return client.error().message;
    if (auto p = (*client)->ping(); !p) return "no Docker daemon: " + p.error().message;
    for (const char* image : {"isol8:python", "isol8:bash", "isol8:node"}) {
      auto i = (*client)->inspect_image(image);
      if (!i) return i.error().message;
      if (!i->has_value()) {
        return std::string("image ") + image +
               " is missing: run isol8 setup, then isol8 setup --backend docker";
      }
    }
    return "";
  }();
  return reason;
}

// The isol8-managed containers on the daemon (running or not), or -1 when it cannot be asked.
inline long isol8_container_count() {
  auto client = docker::DockerClient::from_environment();
  if (!client) return -1;
  auto list = (*client)->list_containers(
      nlohmann::json{{"label", nlohmann::json::array({"isol8.managed=true"})}}, true);
  return list ? static_cast<long>(list->size()) : -1;
}

// Test-name suffix: ".../native", ".../docker".
struct BackendParamName {
  std::string operator()(const ::testing::TestParamInfo<BackendKind>& info) const {
    return to_string(info.param);
  }
};

// The CLI of a LeakCheckedTest with the backend's flags inserted after "run".
class BackendCli {
 public:
  BackendCli(const IsolatedCli& cli, BackendKind kind) : cli_(cli), kind_(kind) {}
  const TempDir& dir() const { return cli_.dir(); }
  CliOptions options(std::string input = "") const { return cli_.options(std::move(input)); }
  std::vector<std::string> args(std::vector<std::string> a) const {
    if (!a.empty() && a[0] == "run") {
      a.insert(a.begin() + 1, {"--backend", std::string(to_string(kind_))});
    }
    return a;
  }
  CliRun run(const std::vector<std::string>& a, std::string input = "") const {
    return cli_.run(args(a), std::move(input));
  }

 private:
  const IsolatedCli& cli_;
  BackendKind kind_;
};

// LeakCheckedTest for one backend; the backend comes from kind() of the concrete fixture.
class BackendTestBase : public LeakCheckedTest {
 protected:
  virtual BackendKind kind() const = 0;

  void SetUp() override {
    if (kind() == BackendKind::kDocker) {
      if (const std::string why = docker_unavailable_reason(); !why.empty()) {
        GTEST_SKIP() << "docker backend unavailable: " << why;
      }
      containers_before_ = isol8_container_count();
    }
    LeakCheckedTest::SetUp();
  }

  void TearDown() override {
    if (!IsSkipped() && kind() == BackendKind::kDocker) {
      EXPECT_EQ(isol8_container_count(), containers_before_)
          << "isol8 containers left on the daemon";
    }
    LeakCheckedTest::TearDown();
  }

  // Docker cases leave out the mounts of containers (overlay roots, network namespaces, shm),
  // which any Docker daemon on the machine makes in the host's mount table while its containers
  // run (other daemons too); this daemon's containers are counted by the container check.
  size_t counted_mounts() const override {
    if (!is_docker()) return LeakCheckedTest::counted_mounts();
    std::istringstream in(slurp("/proc/self/mountinfo"));
    std::string line;
    size_t n = 0;
    while (std::getline(in, line)) {
      std::istringstream f(line);
      std::string id, parent, devno, root, point;
      f >> id >> parent >> devno >> root >> point;
      const bool container_mount = (contains(point, "/overlay2/") && point.ends_with("/merged")) ||
                                   contains(point, "/netns/") ||
                                   (contains(point, "/containers/") && point.ends_with("/shm"));
      if (!container_mount) ++n;
    }
    return n;
  }

  bool is_docker() const { return kind() == BackendKind::kDocker; }
  BackendCli cli() const { return BackendCli(LeakCheckedTest::cli(), kind()); }
  Options options() const {
    Options o = LeakCheckedTest::options();
    o.backend = kind();
    return o;
  }

 private:
  long containers_before_ = 0;
};

// A behaviour test over behaviour_backends().
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

}  // namespace isol8::test

#define ISOL8_BACKEND_SUITE(fixture)                                                 \
  INSTANTIATE_TEST_SUITE_P(Backends, fixture,                                        \
                           ::testing::ValuesIn(::isol8::test::behaviour_backends()), \
                           ::isol8::test::BackendParamName())

// Instantiates a BackendCaseTest with `cases` (a ::testing::Values(...)) and `name_of(case)`.
#define ISOL8_BACKEND_CASES(prefix, fixture, cases, name_of)                               \
  INSTANTIATE_TEST_SUITE_P(                                                                \
      prefix, fixture,                                                                     \
      ::testing::Combine(::testing::ValuesIn(::isol8::test::behaviour_backends()), cases), \
      [](const auto& info) {                                                               \
        return std::string(name_of(std::get<1>(info.param))) + "_" +                       \
               std::string(::isol8::to_string(std::get<0>(info.param)));                   \
      })
