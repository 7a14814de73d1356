// --net filtered through one native backend with the real filtering proxy, run after run: the
// first run has a proxy of its own, later runs share one proxy (one io thread) with a slot each.
// Every run must still get its own filter and its own log, and nothing may be left behind.

#include "network_fixture.h"

#if __has_include("proxy/filtering_proxy.h")

namespace isol8::test {
namespace {

constexpr const char* kFetch =
    "import urllib.request, urllib.error\n"
    "try:\n"
    "    print(urllib.request.urlopen('http://203.0.113.2/', timeout=10).read().decode())\n"
    "except urllib.error.HTTPError as e:\n"
    "    print('HTTP', e.code)\n";

BackendRun fetch(Backend& backend, const std::string& allow) {
  RunSpec spec = python_spec(kFetch);
  spec.network_filter.whitelist = {allow};
  spec.log_network = true;
  return run_spec(backend, spec);
}

class SharedProxy : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "the filtered network's veth needs root";
    if (const auto why = sandbox_unavailable_reason(); !why.empty()) GTEST_SKIP() << why;
  }
};

TEST_F(SharedProxy, EveryRunGetsItsOwnFilterAndLog) {
  TestInternet internet;
  ASSERT_TRUE(internet.ok());
  {
    auto made = make_native_backend(NativeBackendConfig{});  // the built-in proxy
    ASSERT_TRUE(made) << made.error().message;
    Backend& backend = **made;
    // Allowed, refused, allowed, refused: the first on its own proxy, the rest on the shared
    // one, so a filter or a log that leaked from one run into the next would show.
    const std::string allowed = R"(^203\.0\.113\.2$)";
    const std::string other = R"(^other\.test$)";
    for (int i = 0; i < 4; ++i) {
      const bool allow = i % 2 == 0;
      const BackendRun r = fetch(backend, allow ? allowed : other);
      ASSERT_TRUE(r.ok) << "run " << i << ": " << r.error;
      EXPECT_EQ(r.exit_code, 0) << "run " << i << ": " << r.err;
      EXPECT_EQ(rtrim(r.out), allow ? "internet says hi" : "HTTP 403") << "run " << i;
      ASSERT_EQ(r.logs.size(), 1u) << "run " << i << ": only this run's request";
      EXPECT_EQ(r.logs[0].host, "203.0.113.2");
      EXPECT_EQ(r.logs[0].action, allow ? "ALLOW" : "BLOCK") << "run " << i;
    }
  }
  EXPECT_EQ(network_leftovers_settled(), std::vector<std::string>{});
}

TEST_F(SharedProxy, ConcurrentRunsOnTheSharedProxyKeepTheirFilters) {
  TestInternet internet;
  ASSERT_TRUE(internet.ok());
  {
    auto made = make_native_backend(NativeBackendConfig{});
    ASSERT_TRUE(made) << made.error().message;
    Backend& backend = **made;
    ASSERT_TRUE(fetch(backend, R"(^203\.0\.113\.2$)").ok);  // the next runs share the proxy
    BackendRun results[4];
    std::vector<std::thread> threads;
    for (int i = 0; i < 4; ++i) {
      threads.emplace_back([&, i] {
        results[i] = fetch(backend, i % 2 == 0 ? R"(^203\.0\.113\.2$)" : R"(^other\.test$)");
      });
    }
    for (auto& t : threads) t.join();
    for (int i = 0; i < 4; ++i) {
      ASSERT_TRUE(results[i].ok) << "run " << i << ": " << results[i].error;
      EXPECT_EQ(rtrim(results[i].out), i % 2 == 0 ? "internet says hi" : "HTTP 403")
          << "run " << i << ": " << results[i].err;
      EXPECT_EQ(results[i].logs.size(), 1u) << "run " << i;
    }
  }
  EXPECT_EQ(network_leftovers_settled(), std::vector<std::string>{});
}

}  // namespace
}  // namespace isol8::test

#endif
