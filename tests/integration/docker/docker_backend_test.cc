// The docker backend through its Backend interface and the library Engine: one-shot containers,
// the stdin payload (files, setup script, user stdin), setup failures, timeouts, OOM, the warm
// pool's cleaning between reuses, and nothing left behind.

#include <gtest/gtest.h>

#include <map>
#include <set>

#include "backends/docker/client.h"
#include "backends/docker/docker_backend.h"
#include "isol8/engine.h"
#include "isol8/options.h"
#include "support/test_support.h"

namespace isol8::test {
namespace {

using nlohmann::json;

RunSpec bash_spec(const std::string& script) {
  RunSpec spec;
  spec.argv = {"/bin/bash", "-c", script};
  spec.env = {"PATH=/usr/local/bin:/usr/bin:/bin", "HOME=/sandbox"};
  spec.image = "isol8:bash";
  spec.runtime = "bash";
  spec.timeout = std::chrono::milliseconds(20000);
  return spec;
}

class DockerBackendTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ISOL8_REQUIRE_DOCKER();
    Options o;
    o.backend = BackendKind::kDocker;
    o.pool_size = {0, 0};
    auto b = make_docker_backend(o);
    ASSERT_TRUE(b) << b.error().message;
    backend_ = std::move(*b);
  }
  std::unique_ptr<Backend> backend_;
};

TEST_F(DockerBackendTest, FilesSetupAndStdinArriveInOneStart) {
  RunSpec spec = bash_spec(
      "cat /sandbox/a/b/c.txt; echo; cat /tmp/t; echo; cat /sandbox/from-setup; echo; pwd; "
      "cat; id -u");
  spec.files = {{"/sandbox/a/b/c.txt", "nested"}, {"/tmp/t", std::string(200000, 'z')}};
  spec.setup_script = "echo setup-out; echo setup-err >&2; echo made > /sandbox/from-setup";
  spec.workdir = "/sandbox/work/dir";
  spec.stdin_data = "the user's stdin";
  CollectingSink sink;
  auto outcome = backend_->run(spec, sink, {});
  ASSERT_TRUE(outcome) << outcome.error().message;
  EXPECT_EQ(outcome->exit_code, 0) << sink.err;
  EXPECT_FALSE(outcome->setup_failed_exit);
  ASSERT_TRUE(sink.setup_code);
  EXPECT_EQ(*sink.setup_code, 0);
  const std::string expected =
      "nested\n" + std::string(200000, 'z') + "\nmade\n\n/sandbox/work/dir\nthe user's stdin100\n";
  EXPECT_TRUE(sink.out == expected)
      << "stdout of " << sink.out.size() << " bytes, expected " << expected.size()
      << "; its end: " << sink.out.substr(sink.out.size() > 80 ? sink.out.size() - 80 : 0);
  // The setup's output is delivered as such (phase "setup"), never as the program's.
  EXPECT_EQ(sink.err, "");
  EXPECT_EQ(sink.setup_out, "setup-out\n");
  EXPECT_EQ(sink.setup_err, "setup-err\n");
}

TEST_F(DockerBackendTest, FailingSetupStopsTheRun) {
  RunSpec spec = bash_spec("echo program-ran");
  spec.setup_script = "echo broken >&2; exit 3";
  CollectingSink sink;
  auto outcome = backend_->run(spec, sink, {});
  ASSERT_TRUE(outcome) << outcome.error().message;
  ASSERT_TRUE(outcome->setup_failed_exit);
  EXPECT_EQ(*outcome->setup_failed_exit, 3);
  EXPECT_EQ(sink.setup_err, "broken\n");
  EXPECT_EQ(sink.out.find("program-ran"), std::string::npos);
}

TEST_F(DockerBackendTest, LargeStdinWhileTheProgramWritesALot) {
  // Both directions at once: 1 MiB in, 2 MiB out, no deadlock.
  RunSpec spec = bash_spec("head -c 2097152 /dev/zero; wc -c");
  spec.stdin_data = std::string(1 << 20, 'i');
  CollectingSink sink;
  auto outcome = backend_->run(spec, sink, {});
  ASSERT_TRUE(outcome) << outcome.error().message;
  EXPECT_EQ(sink.out.size(), (2u << 20) + std::string("1048576\n").size());
  EXPECT_TRUE(sink.out.ends_with("1048576\n"));
}

TEST_F(DockerBackendTest, TimeoutKillsTheContainer) {
  RunSpec spec = bash_spec("echo started; sleep 60");
  spec.timeout = std::chrono::milliseconds(1500);
  CollectingSink sink;
  const long before = isol8_container_count();
  auto outcome = backend_->run(spec, sink, {});
  ASSERT_TRUE(outcome) << outcome.error().message;
  EXPECT_TRUE(outcome->timed_out);
  EXPECT_EQ(outcome->exit_code, 137);
  EXPECT_EQ(sink.out, "started\n");
  EXPECT_LT(outcome->duration.count(), 15000);
  EXPECT_EQ(isol8_container_count(), before);
}

TEST_F(DockerBackendTest, OomIsReported) {
  RunSpec spec = bash_spec("python3 -c \"x = bytearray(200 << 20); print(len(x))\"");
  spec.image = "isol8:python";
  spec.limits.memory_bytes = 32ull << 20;
  CollectingSink sink;
  auto outcome = backend_->run(spec, sink, {});
  ASSERT_TRUE(outcome) << outcome.error().message;
  EXPECT_TRUE(outcome->oom_killed) << "exit " << outcome->exit_code << " " << sink.err;
  EXPECT_EQ(outcome->exit_code, 137);
}

TEST_F(DockerBackendTest, MissingImageNamesTheSetupCommand) {
  RunSpec spec = bash_spec("true");
  spec.image = "isol8:does-not-exist";
  CollectingSink sink;
  auto outcome = backend_->run(spec, sink, {});
  ASSERT_FALSE(outcome);
  EXPECT_NE(outcome.error().message.find("isol8 setup --backend docker"), std::string::npos)
      << outcome.error().message;
}

TEST(DockerBackendErrors, UnreachableDaemon) {
  const char* saved = std::getenv("DOCKER_HOST");
  const std::string original = saved != nullptr ? saved : "";
  ::setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock", 1);
  Options o;
  o.backend = BackendKind::kDocker;
  auto engine = Engine::create(o);
  if (saved != nullptr) {
    ::setenv("DOCKER_HOST", original.c_str(), 1);
  } else {
    ::unsetenv("DOCKER_HOST");
  }
  ASSERT_FALSE(engine);
  EXPECT_NE(engine.error().message.find(
                "Docker is not running or not reachable at /nonexistent/docker.sock"),
            std::string::npos)
      << engine.error().message;
}

// ---- the warm pool, through the library Engine

class DockerPoolTest : public ::testing::TestWithParam<std::string> {};

TEST_P(DockerPoolTest, PooledContainersAreCleanOnReuse) {
  ISOL8_REQUIRE_DOCKER();
  const long before = isol8_container_count();
  {
    Options o;
    o.backend = BackendKind::kDocker;
    o.pool_strategy = *parse_pool_strategy(GetParam());
    o.pool_size = {1, 1};
    auto engine = Engine::create(o);
    ASSERT_TRUE(engine) << engine.error().message;
    // Every run first shows what it can see (its container, via its cgroup path; the files
    // in /sandbox and /tmp; every process), then leaves dirt behind: files in /sandbox and
    // /tmp, a directory it cannot read, a detached background process. The words are split in
    // the script so that its own command line does not contain them.
    ExecutionRequest run;
    run.runtime = "bash";
    run.code =
        "grep -m1 memory /proc/self/cgroup; ls -A /sandbox /tmp; "
        "for p in /proc/[0-9]*; do tr '\\0' ' ' < $p/cmdline 2>/dev/null; echo; done; "
        "s=sle; echo x > /sandbox/left.\"txt\"; echo x > /tmp/left.\"txt\"; mkdir /sandbox/d; "
        "chmod 000 /sandbox/d; (setsid ${s}ep 1000 >/dev/null 2>&1 &)";
    std::set<std::string> seen;
    bool reused = false;
    for (int i = 0; i < 6; ++i) {
      auto r = (*engine)->execute(run);
      ASSERT_TRUE(r) << r.error().message;
      ASSERT_EQ(r->exit_code, 0) << r->stderr_data;
      const std::string& out = r->stdout_data;
      const std::string container = out.substr(0, out.find('\n'));
      reused = reused || seen.count(container) > 0;
      seen.insert(container);
      EXPECT_EQ(out.find("left.txt"), std::string::npos) << "run " << i << ":\n" << out;
      EXPECT_EQ(out.find("sleep 1000"), std::string::npos) << "run " << i << ":\n" << out;
      EXPECT_EQ(out.find("\nd\n"), std::string::npos) << "run " << i << ":\n" << out;
    }
    EXPECT_TRUE(reused) << "the pool never handed the first container out again";
  }
  // The engine's destructor removed every pooled container.
  EXPECT_EQ(isol8_container_count(), before);
}

// A pooled run execs in a container that outlives it, whose State.OOMKilled is container-wide and
// sticky: the verdict comes from the container's oom_kill counter, and the container is not
// reused after an OOM kill (the next run is in a clean one and is not reported as OOM).
TEST_P(DockerPoolTest, OomInAPooledRunIsReportedOnlyForThatRun) {
  ISOL8_REQUIRE_DOCKER();
  const long before = isol8_container_count();
  {
    Options o;
    o.backend = BackendKind::kDocker;
    o.pool_strategy = *parse_pool_strategy(GetParam());
    o.pool_size = {1, 1};
    o.memory_limit_bytes = 64ull << 20;
    auto engine = Engine::create(o);
    ASSERT_TRUE(engine) << engine.error().message;
    ExecutionRequest fine;
    fine.runtime = "python";
    fine.code = "print('fine')";
    ExecutionRequest bomb;
    bomb.runtime = "python";
    bomb.code = "x = bytearray(300 << 20)";
    for (int i = 0; i < 2; ++i) {
      auto ok = (*engine)->execute(fine);
      ASSERT_TRUE(ok) << ok.error().message;
      EXPECT_EQ(ok->status, RunStatus::kOk) << ok->stderr_data;
      EXPECT_FALSE(ok->oom_killed);
      auto oom = (*engine)->execute(bomb);
      ASSERT_TRUE(oom) << oom.error().message;
      EXPECT_EQ(oom->status, RunStatus::kOom) << oom->stderr_data;
      EXPECT_TRUE(oom->oom_killed);
      EXPECT_EQ(oom->exit_code, 137);
      EXPECT_NE(oom->stderr_data.find("--- OUT OF MEMORY (limit 64m) ---"), std::string::npos)
          << oom->stderr_data;
    }
    auto after = (*engine)->execute(fine);
    ASSERT_TRUE(after) << after.error().message;
    EXPECT_EQ(after->status, RunStatus::kOk) << after->stderr_data;
    EXPECT_FALSE(after->oom_killed);
  }
  EXPECT_EQ(isol8_container_count(), before);
}

// The setup script and the program each get the whole time limit, in a pooled exec too.
TEST_P(DockerPoolTest, EachPhaseHasItsOwnTimeLimit) {
  ISOL8_REQUIRE_DOCKER();
  Options o;
  o.backend = BackendKind::kDocker;
  o.pool_strategy = *parse_pool_strategy(GetParam());
  o.pool_size = {1, 1};
  auto engine = Engine::create(o);
  ASSERT_TRUE(engine) << engine.error().message;
  ExecutionRequest both;
  both.runtime = "bash";
  both.cmd = "sleep 1.2; echo done";
  both.setup_script = "sleep 1.2";
  both.timeout_ms = 2000;
  auto r = (*engine)->execute(both);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->exit_code, 0) << r->stderr_data;
  EXPECT_EQ(r->stdout_data, "done");
  ExecutionRequest slow = both;
  slow.setup_script = "sleep 30";
  slow.timeout_ms = 500;
  auto s = (*engine)->execute(slow);
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().message, "SETUP SCRIPT TIMED OUT");
}

INSTANTIATE_TEST_SUITE_P(Strategies, DockerPoolTest, ::testing::Values("fast", "secure"));

}  // namespace
}  // namespace isol8::test
