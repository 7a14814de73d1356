#pragma once
// The cluster tier's fixture and helpers: each case gets a LocalCluster of its own (PostgreSQL,
// n1..n3, HAProxy), with id map bases no other test process uses, and TearDown checks that the
// stopped cluster left no sandbox process, cgroup or mount on the host. Requests go through
// HAProxy (proxy_port()) or to one node's own port, with the server tier's clients.

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "integration/cluster/local_cluster.h"
#include "integration/server/server_client.h"

namespace isol8::test {

// `bash -c cmd` as an execution request.
nlohmann::json bash(const std::string& cmd);
// The POST /execute body of `cmd`, in session `session_id` unless it is empty.
nlohmann::json execute_body(const std::string& cmd, const std::string& session_id = "");
// A field of a JSON reply's object; null when the reply is no JSON object (a failed request).
nlohmann::json field_of(const HttpReply& reply, const std::string& key);
// The node that answered (X-Isol8-Node), or "".
std::string node_of(const HttpReply& reply);

// Alive and not a zombie (the nodes are the script's children, reaped by init in its own time).
bool running(pid_t pid);

// A WebSocket execution on `target` (/execute/ws, maybe with ?sessionId=): `message` is sent,
// the text frames are collected until the server closes; `node` is the X-Isol8-Node of the
// 101 reply.
struct WsExecution {
  bool upgraded = false;
  std::string refused;
  std::string node;
  std::vector<nlohmann::json> frames;
  int close_code = 0;
  std::string stdout_text() const;
};
WsExecution ws_execute(int port, const std::string& target, const nlohmann::json& message,
                       const std::string& key = kMasterKey);

// Ephemeral executions (`bash -c true`, no session) from `clients` threads through `port`, one
// connection per request, until stop(): every reply kept with the time it was sent.
class EphemeralLoad {
 public:
  struct Reply {
    std::chrono::steady_clock::time_point sent;
    int status = 0;
    std::string node;
    std::string body;
  };
  EphemeralLoad(int port, int clients);
  ~EphemeralLoad();
  void stop();
  size_t count() const;
  std::vector<Reply> replies() const;

 private:
  std::atomic<bool> stop_{false};
  mutable std::mutex mutex_;
  std::vector<Reply> replies_;
  std::vector<std::thread> threads_;
};

class ClusterTest : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;
  // Merged into every node's config (a case that needs a longer drain, say).
  virtual nlohmann::json node_config() const { return nlohmann::json::object(); }

  LocalCluster& cluster() { return *cluster_; }
  int proxy_port() const { return cluster_->haproxy_port(); }
  int node_port(const std::string& node) const { return cluster_->node_port(node); }

 private:
  std::unique_ptr<LocalCluster> cluster_;
  size_t mounts_before_ = 0;
};

}  // namespace isol8::test
