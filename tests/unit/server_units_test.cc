// src/server without a network or a sandbox: settings and port precedence, the policy (client
// options may only tighten), the envelope, bearer tokens, the bounded executor, the SQLite key
// store, metrics text.

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "server/auth.h"
#include "server/envelope.h"
#include "server/executor.h"
#include "server/key_crypto.h"
#include "server/metrics.h"
#include "server/policy.h"
#include "server/server_settings.h"
#include "server/sqlite_key_store.h"
#include "support/files.h"

namespace isol8::server {
namespace {

using nlohmann::json;

ServerSettings settings(const json& config = json::object()) {
  auto s = settings_from_config(config, Options{});
  EXPECT_TRUE(s.has_value()) << (s ? "" : s.error().message);
  return s ? std::move(s).value() : ServerSettings{};
}

TEST(ServerSettings, PortPrecedenceAndMessages) {
  EXPECT_EQ(resolve_port(std::nullopt, nullptr, nullptr)->first, 3000);
  EXPECT_EQ(resolve_port(std::nullopt, nullptr, "4000")->second, "PORT");
  EXPECT_EQ(resolve_port(std::nullopt, "5000", "4000")->first, 5000);
  EXPECT_EQ(resolve_port(std::string("6000"), "5000", "4000")->second, "--port");
  EXPECT_EQ(resolve_port(std::string("0"), nullptr, nullptr).error().message,
            "Invalid port from --port: 0. Expected 1-65535.");
  EXPECT_EQ(resolve_port(std::nullopt, "65536", nullptr).error().message,
            "Invalid port from ISOL8_PORT: 65536. Expected 1-65535.");
  EXPECT_FALSE(resolve_port(std::string("12a"), nullptr, nullptr));
}

TEST(ServerPolicy, DefaultsAreTheMaximaAndTighteningIsAccepted) {
  const ServerSettings s = settings();
  auto o =
      apply_client_options({{"memoryLimit", "128m"}, {"timeoutMs", 1000}, {"cpuLimit", 0.5}}, s);
  ASSERT_TRUE(o) << o.error().message;
  EXPECT_EQ(o->memory_limit_bytes, 128ull << 20);
  EXPECT_EQ(o->timeout_ms, 1000);
  auto looser = apply_client_options({{"memoryLimit", "1g"}}, s);
  ASSERT_FALSE(looser);
  EXPECT_EQ(looser.error().code, 403);
  EXPECT_EQ(looser.error().message,
            "options.memoryLimit is not allowed by this server: the maximum is 512m: got 1g");
}

TEST(ServerPolicy, ConfiguredMaximaAndAllows) {
  const ServerSettings s =
      settings({{"server",
                 {{"limits", {{"memoryLimit", "2g"}}},
                  {"allow", {{"network", "host"}, {"images", {"custom:1"}}}}}}});
  EXPECT_TRUE(apply_client_options({{"memoryLimit", "2g"}}, s));
  EXPECT_FALSE(apply_client_options({{"memoryLimit", "3g"}}, s));
  EXPECT_TRUE(apply_client_options({{"network", "host"}}, s));
  EXPECT_TRUE(apply_client_options({{"image", "custom:1"}}, s));
  EXPECT_EQ(apply_client_options({{"image", "other"}}, s).error().code, 403);
}

TEST(ServerPolicy, RefusalsNameTheOption) {
  const ServerSettings s = settings();
  const std::vector<std::pair<json, std::string>> cases = {
      {{{"network", "filtered"}}, "options.network"},
      {{{"security", {{"seccomp", "custom"}}}}, "options.security.seccomp"},
      {{{"readonlyRootFs", false}}, "options.readonlyRootFs"},
      {{{"persist", true}}, "options.persist"},
      {{{"remoteCode", json::object()}}, "options.remoteCode"},
  };
  for (const auto& [options, name] : cases) {
    auto r = apply_client_options(options, s);
    ASSERT_FALSE(r) << options.dump();
    EXPECT_EQ(r.error().code, 403);
    EXPECT_EQ(r.error().message.rfind(name, 0), 0u) << r.error().message;
  }
  EXPECT_EQ(apply_client_options({{"pidsLimit", "many"}}, s).error().code, 400);
  EXPECT_EQ(apply_client_options({{"logNetwork", 1}}, s).error().code, 400);
  // The client's blacklist adds to the server's.
  auto o = apply_client_options({{"networkFilter", {{"blacklist", {"^evil$"}}}}}, s);
  ASSERT_TRUE(o);
  EXPECT_EQ(o->network_filter.blacklist, std::vector<std::string>{"^evil$"});
}

TEST(ServerEnvelope, FieldsAreChecked) {
  EXPECT_EQ(parse_json_body("{").error().code, 400);
  auto e = parse_envelope(json::parse(
      R"({"request":{"runtime":"bash","code":"x","outputPaths":["/a"],"metadata":{"userId":"u"}},"sessionId":"s"})"));
  ASSERT_TRUE(e) << e.error().message;
  EXPECT_EQ(e->session_id, "s");
  EXPECT_EQ(e->request.output_paths, std::vector<std::string>{"/a"});
  EXPECT_EQ(e->request.metadata.at("userId"), "u");
  EXPECT_EQ(parse_envelope(json::parse(R"({"request":{"runtime":"bash","files":{"a":1}}})"))
                .error()
                .message,
            "request.files.a must be a string");
  EXPECT_EQ(parse_envelope(json::parse(R"({"request":{"runtime":"bash","timeoutMs":1.5}})"))
                .error()
                .message,
            "request.timeoutMs must be an integer number of milliseconds");
}

TEST(ServerAuth, BearerTokensAndMasterKey) {
  EXPECT_EQ(bearer_token("Bearer abc"), "abc");
  EXPECT_EQ(bearer_token("bearer   abc"), "abc");
  EXPECT_EQ(bearer_token("abc"), "abc");
  EXPECT_EQ(bearer_token("Bearerabc"), "Bearerabc");
  Authenticator auth("master", nullptr);
  EXPECT_EQ(auth.authenticate(std::nullopt).error().code, 401);
  EXPECT_EQ(auth.authenticate("Bearer nope").error().code, 403);
  EXPECT_TRUE(auth.authenticate("Bearer master")->master);
  EXPECT_TRUE(constant_time_equal("a", "a"));
  EXPECT_FALSE(constant_time_equal("a", "ab"));
  const std::string key = make_api_key();
  EXPECT_EQ(key.size(), 70u);
  EXPECT_EQ(key_prefix(key), key.substr(0, 10) + "...");
  EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(ServerKeyStore, SqliteCreateAuthenticateRevokeExpire) {
  test::TempDir dir("isol8-unit-keys");
  auto store = open_sqlite_key_store(dir.file("sub/auth.db"));
  ASSERT_TRUE(store) << store.error().message;
  auto made = (*store)->create("k", "t1", 60000);
  ASSERT_TRUE(made);
  auto found = (*store)->authenticate(sha256_hex(made->key));
  ASSERT_TRUE(found && *found);
  EXPECT_EQ((**found).tenant_id, "t1");
  EXPECT_TRUE((**found).last_used_at.has_value());
  EXPECT_FALSE(*(*store)->authenticate(sha256_hex("isol8_nope")));
  EXPECT_TRUE(*(*store)->revoke(made->record.id));
  EXPECT_FALSE(*(*store)->revoke("missing"));
  EXPECT_FALSE(*(*store)->authenticate(sha256_hex(made->key)));
  auto short_lived = (*store)->create("s", "t2", 1);
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_FALSE(*(*store)->authenticate(sha256_hex(short_lived->key)));
  EXPECT_EQ((*store)->list(std::string("t2"))->size(), 1u);
  EXPECT_EQ(*(*store)->remove_stale(), 2);
  EXPECT_TRUE((*store)->list(std::nullopt)->empty());
}

TEST(ServerExecutor, BoundedQueueRefusesBeyondIt) {
  Executor pool(1, 1);
  std::atomic<bool> release{false};
  std::atomic<int> ran{0};
  auto job = [&] {
    while (!release) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    ++ran;
  };
  EXPECT_TRUE(pool.submit(job));
  while (pool.running() == 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  EXPECT_TRUE(pool.submit(job));
  EXPECT_FALSE(pool.submit(job));
  release = true;
  while (ran < 2) std::this_thread::sleep_for(std::chrono::milliseconds(1));
}

TEST(ServerMetrics, PrometheusText) {
  Metrics m;
  m.execution("bash", "ok", 0.02);
  m.execution("we\"ird", "error", 100);
  m.auth_failure(403);
  const std::string text = m.render(Gauges{1, 2, 3, 4, 5});
  EXPECT_NE(text.find("isol8_executions_total{runtime=\"bash\",status=\"ok\"} 1\n"),
            std::string::npos);
  EXPECT_NE(text.find("runtime=\"we\\\"ird\""), std::string::npos);
  EXPECT_NE(text.find("isol8_execution_duration_seconds_bucket{le=\"0.025\"} 1\n"),
            std::string::npos);
  EXPECT_NE(text.find("isol8_execution_duration_seconds_count 2\n"), std::string::npos);
  EXPECT_NE(text.find("isol8_auth_failures_total{status=\"403\"} 1\n"), std::string::npos);
  EXPECT_NE(text.find("isol8_queue_depth 2\n"), std::string::npos);
}

}  // namespace
}  // namespace isol8::server
