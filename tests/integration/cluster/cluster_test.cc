#include "integration/cluster/cluster_test.h"

#include <unistd.h>

#include <filesystem>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>

#include "support/host_state.h"
#include "support/sandbox_fixtures.h"

namespace isol8::test {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;

// Three 65536-id ranges per test process, above every unique_id_map_base() of other test
// processes (which stay below base + 65536 * 2064), so that counting a node's sandbox processes
// sees only this cluster's.
uint32_t cluster_id_map_base() {
  return kDefaultIdMapBase + 65536u * (2064u + 3u * (static_cast<uint32_t>(::getpid()) % 1024u));
}

// "" when the tier can run here, else why not.
std::string cluster_unavailable_reason() {
  if (::geteuid() != 0)
    return "the cluster tier runs as root (native nodes, PostgreSQL as postgres)";
  if (sh("command -v haproxy >/dev/null") != 0) return "haproxy is not installed (scripts/deps)";
  if (sh("ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1") != 0) {
    return "PostgreSQL is not installed (scripts/deps)";
  }
  return sandbox_unavailable_reason();
}

}  // namespace

bool running(pid_t pid) {
  const std::string state = status_field(pid, "State");
  return !state.empty() && state[0] != 'Z' && state[0] != 'X';
}

nlohmann::json bash(const std::string& cmd) { return {{"runtime", "bash"}, {"code", cmd}}; }

nlohmann::json execute_body(const std::string& cmd, const std::string& session_id) {
  nlohmann::json body = {{"request", bash(cmd)}};
  if (!session_id.empty()) body["sessionId"] = session_id;
  return body;
}

nlohmann::json field_of(const HttpReply& reply, const std::string& key) {
  const nlohmann::json body = reply.json();
  if (!body.is_object() || !body.contains(key)) return nullptr;
  return body[key];
}

std::string node_of(const HttpReply& reply) {
  const auto it = reply.headers.find("x-isol8-node");
  return it == reply.headers.end() ? "" : it->second;
}

std::string WsExecution::stdout_text() const {
  std::string out;
  for (const auto& f : frames) {
    if (f.is_object() && f.value("type", "") == "stdout") out += f.value("data", "");
  }
  return out;
}

WsExecution ws_execute(int port, const std::string& target, const nlohmann::json& message,
                       const std::string& key) {
  WsExecution result;
  asio::io_context ioc;
  websocket::stream<beast::tcp_stream> ws(ioc);
  try {
    beast::get_lowest_layer(ws).connect(
        {asio::ip::make_address("127.0.0.1"), static_cast<uint16_t>(port)});
    beast::get_lowest_layer(ws).expires_after(std::chrono::minutes(2));
    ws.set_option(websocket::stream_base::decorator([&](websocket::request_type& req) {
      req.set(http::field::authorization, "Bearer " + key);
    }));
    websocket::response_type res;
    boost::system::error_code ec;
    ws.handshake(res, "127.0.0.1", target, ec);
    if (ec) {
      result.refused = ec.message();
      return result;
    }
    result.upgraded = true;
    result.node = std::string(res["X-Isol8-Node"]);
    ws.text(true);
    ws.write(asio::buffer(message.dump()));
    for (;;) {
      beast::flat_buffer buffer;
      ws.read(buffer, ec);
      if (ec) break;
      result.frames.push_back(
          nlohmann::json::parse(beast::buffers_to_string(buffer.data()), nullptr, false));
    }
    result.close_code = ws.reason().code;
  } catch (const std::exception& e) {
    result.refused = e.what();
  }
  return result;
}

EphemeralLoad::EphemeralLoad(int port, int clients) {
  for (int i = 0; i < clients; ++i) {
    threads_.emplace_back([this, port] {
      const std::string body = execute_body("true").dump();
      while (!stop_) {
        Reply reply;
        reply.sent = std::chrono::steady_clock::now();
        const HttpReply http = http_request(port, "POST", "/execute", body);
        reply.status = http.status;
        reply.node = node_of(http);
        if (http.status != 200) reply.body = http.body;
        std::lock_guard lock(mutex_);
        replies_.push_back(std::move(reply));
      }
    });
  }
}

EphemeralLoad::~EphemeralLoad() { stop(); }

void EphemeralLoad::stop() {
  stop_ = true;
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
}

size_t EphemeralLoad::count() const {
  std::lock_guard lock(mutex_);
  return replies_.size();
}

std::vector<EphemeralLoad::Reply> EphemeralLoad::replies() const {
  std::lock_guard lock(mutex_);
  return replies_;
}

void ClusterTest::SetUp() {
  const std::string reason = cluster_unavailable_reason();
  if (!reason.empty()) GTEST_SKIP() << reason;
  mounts_before_ = host_mount_count();
  cluster_ = std::make_unique<LocalCluster>(cluster_id_map_base(), node_config());
  ASSERT_EQ(cluster_->failure(), "");
}

void ClusterTest::TearDown() {
  if (!cluster_) return;
  if (HasFailure()) std::cout << "[cluster] logs:\n" << cluster_->log_tails() << std::flush;
  const std::string stopped = cluster_->stop();
  // `local-cluster stop` leaves no process of the cluster and removes its directory.
  std::vector<pid_t> processes = cluster_->node_pids_ever();
  processes.push_back(cluster_->haproxy_pid());
  processes.push_back(cluster_->postgres_pid());
  for (pid_t pid : processes) {
    EXPECT_TRUE(wait_until([&] { return !running(pid); })) << "pid " << pid << " still runs";
  }
  EXPECT_FALSE(std::filesystem::exists(cluster_->dir())) << stopped;
  // Nothing of the cluster's sandboxes is left: no process of any node's sandbox uid, no cgroup
  // of any node process it had (a killed node's are removed by its restart), no mount.
  for (const auto& node : LocalCluster::node_ids()) {
    const long uid = cluster_->node_sandbox_uid(node);
    EXPECT_TRUE(wait_until([&] { return pids_with_host_uid(uid).empty(); }))
        << node << "'s sandbox processes are left";
  }
  const auto& pids = cluster_->node_pids_ever();
  EXPECT_EQ(isol8_cgroups_of(std::set<pid_t>(pids.begin(), pids.end())), std::set<std::string>{});
  EXPECT_TRUE(wait_until([&] { return host_mount_count() == mounts_before_; }))
      << "host mounts: " << host_mount_count() << " now, " << mounts_before_ << " before";
  cluster_.reset();
}

}  // namespace isol8::test
