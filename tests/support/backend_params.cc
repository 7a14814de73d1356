#include "support/backend_params.h"

#include <sstream>

#include "support/files.h"
#include "support/requests.h"
#include "support/runs.h"

namespace isol8::test {

Options backend_options(BackendKind kind, uint32_t id_map_base) {
  Options o;
  o.backend = kind;
  o.native.id_map_base = id_map_base;
  return o;
}

std::vector<std::string> backend_cli_flags(BackendKind kind) {
  return {"--backend", std::string(to_string(kind))};
}

std::string backend_unavailable_reason(BackendKind kind, uint32_t id_map_base) {
  if (kind == BackendKind::kNative) {
    if (std::string reason = sandbox_unavailable_reason(); !reason.empty()) return reason;
  } else if (std::string reason = docker_unavailable_reason(); !reason.empty()) {
    return "docker backend unavailable: " + reason;
  }
  auto engine = Engine::create(backend_options(kind, id_map_base));
  if (!engine) {
    return std::string(to_string(kind)) + " backend unavailable: " + engine.error().message;
  }
  return "";
}

std::vector<CliBackend> cli_backends_under_test() {
  std::vector<CliBackend> out;
  bool native = false;
  for (BackendKind kind : backends_under_test()) {
    out.push_back({kind, false});
    native = native || kind == BackendKind::kNative;
  }
  if (native) out.push_back({BackendKind::kNative, true});
  return out;
}

std::string to_string(const CliBackend& backend) {
  return backend.remote ? "remote" : std::string(isol8::to_string(backend.kind));
}

std::vector<std::string> BackendCli::args(std::vector<std::string> a) const {
  if (!a.empty() && a[0] == "run") a.insert(a.begin() + 1, flags_.begin(), flags_.end());
  return a;
}

std::vector<std::string> CliBackendBase::run_flags() const {
  return server_ ? server_->run_flags() : BackendTestBase::run_flags();
}

void CliBackendBase::SetUp() {
  BackendTestBase::SetUp();
  if (IsSkipped() || !is_remote()) return;
  server_ = std::make_unique<RemoteServer>(LeakCheckedTest::cli().dir().path());
  ASSERT_EQ(server_->failure(), "");
}

void CliBackendBase::TearDown() {
  if (server_) {
    const CliRun run = server_->stop();
    EXPECT_EQ(run.exit_code, 0) << "isol8 serve: " << describe(run);
  }
  BackendTestBase::TearDown();
}

void BackendTestBase::SetUp() {
  if (kind() == BackendKind::kDocker) {
    if (const std::string why = docker_unavailable_reason(); !why.empty()) {
      GTEST_SKIP() << "docker backend unavailable: " << why;
    }
    containers_before_ = isol8_container_count();
  }
  LeakCheckedTest::SetUp();
}

void BackendTestBase::TearDown() {
  if (!IsSkipped() && kind() == BackendKind::kDocker) {
    EXPECT_EQ(isol8_container_count(), containers_before_) << "isol8 containers left on the daemon";
  }
  LeakCheckedTest::TearDown();
}

bool BackendTestBase::limits_enforced() const {
  auto r = execute_once(options(), bash_request("true"));
  return r && r->limits.not_enforced.empty();
}

size_t BackendTestBase::counted_mounts() const {
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

}  // namespace isol8::test
