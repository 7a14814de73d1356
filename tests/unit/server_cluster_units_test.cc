// A cluster node's settings (node id, advertise URL, the PostgreSQL requirement, the drain
// default) and which session an HTTP request names, without a database.

#include <gtest/gtest.h>

#include "server/server_settings.h"
#include "server/session_placement.h"

namespace isol8::server {
namespace {

namespace http = boost::beast::http;
using nlohmann::json;

constexpr const char* kPostgres = "postgresql://isol8@127.0.0.1:5432/isol8";

ServerSettings node_settings(const json& config) {
  auto s = settings_from_config(config, Options{});
  EXPECT_TRUE(s.has_value()) << (s ? "" : s.error().message);
  ServerSettings out = s ? std::move(s).value() : ServerSettings{};
  out.port = 3100;
  out.auth_db = kPostgres;
  return out;
}

TEST(ClusterSettings, NotANodeWithoutANodeId) {
  ServerSettings s = node_settings(json::object());
  ASSERT_TRUE(finish_cluster_settings(s, std::nullopt, std::nullopt));
  EXPECT_FALSE(s.cluster);
  EXPECT_FALSE(s.drain_ms);  // a single server shuts down at once, as upstream
}

TEST(ClusterSettings, FlagsOverTheConfigAndDefaults) {
  ServerSettings s =
      node_settings({{"server", {{"cluster", {{"nodeId", "from-config"}, {"heartbeatMs", 250}}}}}});
  ASSERT_TRUE(finish_cluster_settings(s, std::string("n1"), std::nullopt));
  ASSERT_TRUE(s.cluster);
  EXPECT_EQ(s.cluster->node_id, "n1");
  EXPECT_EQ(s.cluster->advertise_url, "http://127.0.0.1:3100");
  EXPECT_EQ(s.cluster->heartbeat_ms, 250);
  EXPECT_EQ(s.drain_ms.value_or(-1), 3000);

  ServerSettings t = node_settings({{"server", {{"drainMs", 0}}}});
  ASSERT_TRUE(finish_cluster_settings(t, std::string("n2"), std::string("http://10.0.0.2:3000/")));
  EXPECT_EQ(t.cluster->advertise_url, "http://10.0.0.2:3000");
  EXPECT_EQ(t.drain_ms.value_or(-1), 0);  // the config's value stands
}

TEST(ClusterSettings, RefusalsSayWhatIsWrong) {
  ServerSettings sqlite = node_settings(json::object());
  sqlite.auth_db = "/var/lib/isol8/auth.db";
  auto refused = finish_cluster_settings(sqlite, std::string("n1"), std::nullopt);
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().message.find("PostgreSQL auth DB"), std::string::npos);

  ServerSettings bad_id = node_settings(json::object());
  refused = finish_cluster_settings(bad_id, std::string("n 1\r\n"), std::nullopt);
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().message.find("Invalid node id"), std::string::npos);

  ServerSettings tls = node_settings(json::object());
  refused = finish_cluster_settings(tls, std::string("n1"), std::string("https://a:1"));
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().message.find("Invalid advertise URL"), std::string::npos);

  ServerSettings no_id = node_settings(json::object());
  refused = finish_cluster_settings(no_id, std::nullopt, std::string("http://a:1"));
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().message.find("needs a node id"), std::string::npos);
}

Request request(http::verb method, const std::string& target, const std::string& body = "") {
  Request r{method, target, 11};
  r.body() = body;
  return r;
}

TEST(SessionNamedBy, EveryEndpointThatNamesOne) {
  EXPECT_EQ(session_named_by(request(http::verb::post, "/execute",
                                     R"({"request":{"code":"1"},"sessionId":"s1"})")),
            "s1");
  EXPECT_EQ(session_named_by(request(http::verb::post, "/execute/stream", R"({"sessionId":"s2"})")),
            "s2");
  EXPECT_EQ(session_named_by(request(http::verb::post, "/file",
                                     R"({"sessionId":"s3","path":"/sandbox/a","content":""})")),
            "s3");
  EXPECT_EQ(session_named_by(request(http::verb::get, "/file?sessionId=a%2Fb&path=%2Fx")), "a/b");
  EXPECT_EQ(session_named_by(request(http::verb::delete_, "/session/s4")), "s4");
}

TEST(SessionNamedBy, NoneForEphemeralAndMalformedRequests) {
  EXPECT_FALSE(session_named_by(request(http::verb::post, "/execute", R"({"request":{}})")));
  EXPECT_FALSE(session_named_by(request(http::verb::post, "/execute", "not json")));
  EXPECT_FALSE(session_named_by(request(http::verb::post, "/execute", R"({"sessionId":7})")));
  EXPECT_FALSE(session_named_by(request(http::verb::get, "/file?path=%2Fx")));
  EXPECT_FALSE(session_named_by(request(http::verb::get, "/file?sessionId=&path=%2Fx")));
  EXPECT_FALSE(session_named_by(request(http::verb::get, "/sessions")));
  EXPECT_FALSE(session_named_by(request(http::verb::delete_, "/session/")));
  EXPECT_FALSE(session_named_by(request(http::verb::get, "/session/s4")));
}

}  // namespace
}  // namespace isol8::server
