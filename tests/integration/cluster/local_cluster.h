#pragma once
// The cluster tier's cluster: deploy/local-cluster (the shipped script) run in a temp directory
// of the test's, so that the tests exercise the deployment a user gets: PostgreSQL made with
// initdb, three `isol8 serve` nodes (n1..n3, the native backend) with the server tier's master
// key, and HAProxy with deploy/haproxy.cfg on loopback ports. Stopped (and its directory removed)
// by the destructor.

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "support/files.h"

namespace isol8::test {

class LocalCluster {
 public:
  // Node i (1..3) gets native.idMapBase id_map_base + (i-1) * 65536; `node_config` is merged into
  // every node's isol8.config.json.
  LocalCluster(uint32_t id_map_base, const nlohmann::json& node_config);
  ~LocalCluster();
  LocalCluster(const LocalCluster&) = delete;
  LocalCluster& operator=(const LocalCluster&) = delete;

  // "" once every node is up behind HAProxy, else what went wrong (the script's output).
  const std::string& failure() const { return failure_; }

  static std::vector<std::string> node_ids() { return {"n1", "n2", "n3"}; }
  int haproxy_port() const { return int_of("ISOL8_CLUSTER_HAPROXY_PORT"); }
  int node_port(const std::string& node) const { return int_of(node_var(node, "PORT")); }
  // The node's current process (a restart changes it).
  pid_t node_pid(const std::string& node) const { return int_of(node_var(node, "PID")); }
  // The host uid of the node's sandbox processes (sandbox uid 100 under its id map base).
  long node_sandbox_uid(const std::string& node) const;
  pid_t haproxy_pid() const { return int_of("ISOL8_CLUSTER_HAPROXY_PID"); }
  pid_t postgres_pid() const { return int_of("ISOL8_CLUSTER_PG_PID"); }
  // The cluster's directory (DIR of deploy/local-cluster); gone once stopped.
  const std::string& dir() const { return dir_; }
  // Every node process this cluster has had, killed ones included (for cgroup leak checks).
  const std::vector<pid_t>& node_pids_ever() const { return pids_ever_; }

  // HAProxy's state of the node ("UP", "DOWN", "UP 1/2", "MAINT", ...) in a backend, from its
  // stats page.
  std::string haproxy_status(const std::string& node,
                             const std::string& backend = "ephemeral") const;
  // Polls until HAProxy reports `status` for the node; false when `limit` passed first.
  bool wait_haproxy_status(const std::string& node, const std::string& status,
                           std::chrono::milliseconds limit = std::chrono::seconds(15)) const;

  // One command on HAProxy's admin socket (e.g. "disable server ephemeral/n2"); its reply.
  std::string haproxy_command(const std::string& command) const;

  // Sends `signal` to the node's process.
  void signal_node(const std::string& node, int signal) const;
  // `local-cluster start-node`: the node started again, healthy behind HAProxy. "" or why not.
  std::string start_node(const std::string& node);
  // `local-cluster stop`: everything stopped, the directory removed. The script's output.
  std::string stop();

  // The last lines of each node's and HAProxy's log, for failure messages.
  std::string log_tails() const;

 private:
  struct ScriptRun {
    int exit_code = -1;
    std::string output;  // stdout and stderr
  };
  ScriptRun run_script(const std::vector<std::string>& args) const;
  bool read_env();
  int int_of(const std::string& key) const;
  static std::string node_var(const std::string& node, const std::string& what);

  TempDir parent_{"isol8-cluster"};
  std::string dir_;
  uint32_t id_map_base_ = 0;
  std::string node_config_;
  std::map<std::string, std::string> env_;
  std::vector<pid_t> pids_ever_;
  std::string failure_;
  bool stopped_ = false;
};

}  // namespace isol8::test
