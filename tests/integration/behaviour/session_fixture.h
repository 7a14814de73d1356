#pragma once
// The fixture of the persistent-session suites (sessions_test.cc, session_files_test.cc).

#include <memory>
#include <string>

#include "support/test_support.h"

namespace isol8::test {

class SessionTest : public BackendTest {
 protected:
  Options persistent() const {
    Options o = options();
    o.mode = EngineMode::kPersistent;
    return o;
  }

  // A persistent engine whose first execution has run (`echo ready`), or a skip when this
  // backend has no sessions yet.
  std::unique_ptr<Engine> started(Options o) {
    auto engine = Engine::create(std::move(o));
    EXPECT_TRUE(engine) << engine.error().message;
    if (!engine) return nullptr;
    auto first = (*engine)->execute(bash_request("echo ready"));
    if (!first && contains(first.error().message, "Persistent sessions are not supported")) {
      skip_reason_ = first.error().message;
      return nullptr;
    }
    EXPECT_TRUE(first) << first.error().message;
    if (!first) return nullptr;
    EXPECT_EQ(first->stdout_data, "ready") << describe(*first);
    return std::move(*engine);
  }

  std::string skip_reason_;
};

#define START_SESSION(var, opts)                                   \
  auto var = started(opts);                                        \
  if (!var && !skip_reason_.empty()) GTEST_SKIP() << skip_reason_; \
  ASSERT_TRUE(var)

inline ExecutionResult must_run(Engine& engine, const ExecutionRequest& request) {
  auto r = engine.execute(request);
  EXPECT_TRUE(r) << r.error().message;
  return r ? *r : ExecutionResult{};
}

}  // namespace isol8::test
