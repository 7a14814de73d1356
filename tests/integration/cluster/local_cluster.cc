#include "integration/cluster/local_cluster.h"

#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <sstream>
#include <thread>

#include "integration/server/server_client.h"
#include "support/cli.h"
#include "support/host_state.h"
#include "support/sandbox_fixtures.h"

namespace isol8::test {
namespace {

// Single-quoted for /bin/sh.
std::string quoted(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out += c;
    }
  }
  return out + "'";
}

std::string tail_of(const std::string& path, size_t lines) {
  const std::vector<std::string> all = lines_of(slurp(path));
  std::string out;
  for (size_t i = all.size() > lines ? all.size() - lines : 0; i < all.size(); ++i) {
    out += "    " + all[i] + "\n";
  }
  return out;
}

}  // namespace

LocalCluster::LocalCluster(uint32_t id_map_base, const nlohmann::json& node_config)
    : dir_(parent_.file("cluster")), id_map_base_(id_map_base), node_config_(node_config.dump()) {
  // As root the script runs PostgreSQL as `postgres`, which must reach the cluster directory.
  std::filesystem::permissions(parent_.path(), std::filesystem::perms::others_exec,
                               std::filesystem::perm_options::add);
  const ScriptRun run = run_script({"start", dir_});
  if (run.exit_code != 0 || !read_env()) {
    failure_ = "deploy/local-cluster start failed (exit " + std::to_string(run.exit_code) + "):\n" +
               run.output;
    stopped_ = true;  // the script stops what it started when its start fails
    return;
  }
  for (const auto& node : node_ids()) pids_ever_.push_back(node_pid(node));
}

LocalCluster::~LocalCluster() { stop(); }

LocalCluster::ScriptRun LocalCluster::run_script(const std::vector<std::string>& args) const {
  std::string command = "ISOL8_BIN=" + quoted(kIsol8Binary) +
                        " ISOL8_CLUSTER_KEY=" + quoted(kMasterKey) +
                        " ISOL8_CLUSTER_ID_MAP_BASE=" + std::to_string(id_map_base_) +
                        " ISOL8_CLUSTER_NODE_CONFIG=" + quoted(node_config_) + " " +
                        quoted(std::string(kSourceDir) + "/deploy/local-cluster");
  for (const auto& arg : args) command += " " + quoted(arg);
  const std::string log = parent_.file("script.log");
  ScriptRun run;
  run.exit_code = sh(command + " >" + quoted(log) + " 2>&1 </dev/null");
  run.output = slurp(log);
  return run;
}

bool LocalCluster::read_env() {
  const std::string text = slurp(dir_ + "/cluster.env");
  if (text.empty()) return false;
  env_.clear();
  for (const auto& line : lines_of(text)) {
    const auto eq = line.find('=');
    if (eq != std::string::npos) env_[line.substr(0, eq)] = line.substr(eq + 1);
  }
  return true;
}

int LocalCluster::int_of(const std::string& key) const {
  const auto it = env_.find(key);
  if (it == env_.end() || it->second.empty()) return -1;
  return std::stoi(it->second);
}

std::string LocalCluster::node_var(const std::string& node, const std::string& what) {
  std::string upper = node;
  for (auto& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return "ISOL8_CLUSTER_" + upper + "_" + what;
}

long LocalCluster::node_sandbox_uid(const std::string& node) const {
  const auto ids = node_ids();
  const long index = std::find(ids.begin(), ids.end(), node) - ids.begin();
  return static_cast<long>(id_map_base_) + index * 65536 + kSandboxUid;
}

std::string LocalCluster::haproxy_status(const std::string& node,
                                         const std::string& backend) const {
  const auto it = env_.find("ISOL8_CLUSTER_STATS_URL");
  if (it == env_.end()) return "";
  // http://127.0.0.1:<port>/stats
  const std::string url = it->second;
  const auto colon = url.rfind(':');
  const int port = std::stoi(url.substr(colon + 1));
  const HttpReply reply = http_request(port, "GET", "/stats;csv", "", "");
  for (const auto& line : lines_of(reply.body)) {
    std::vector<std::string> fields;
    std::stringstream in(line);
    for (std::string f; std::getline(in, f, ',');) fields.push_back(f);
    // pxname, svname, ..., status is the 18th column.
    if (fields.size() > 17 && fields[0] == backend && fields[1] == node) return fields[17];
  }
  return "";
}

bool LocalCluster::wait_haproxy_status(const std::string& node, const std::string& status,
                                       std::chrono::milliseconds limit) const {
  return wait_until([&] { return haproxy_status(node) == status; }, limit);
}

std::string LocalCluster::haproxy_command(const std::string& command) const {
  const auto it = env_.find("ISOL8_CLUSTER_ADMIN_SOCKET");
  if (it == env_.end()) return "";
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return "";
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  it->second.copy(addr.sun_path, sizeof(addr.sun_path) - 1);
  std::string reply;
  const std::string line = command + "\n";
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
      ::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size())) {
    char buf[4096];
    for (ssize_t n; (n = ::read(fd, buf, sizeof(buf))) > 0;)
      reply.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return reply;
}

void LocalCluster::signal_node(const std::string& node, int signal) const {
  const pid_t pid = node_pid(node);
  if (pid > 0) ::kill(pid, signal);
}

std::string LocalCluster::start_node(const std::string& node) {
  const ScriptRun run = run_script({"start-node", dir_, node});
  if (run.exit_code != 0) return "local-cluster start-node " + node + " failed:\n" + run.output;
  if (!read_env()) return "no cluster.env after start-node";
  pids_ever_.push_back(node_pid(node));
  return "";
}

std::string LocalCluster::stop() {
  if (stopped_) return "";
  stopped_ = true;
  return run_script({"stop", dir_}).output;
}

std::string LocalCluster::log_tails() const {
  std::string out;
  for (const auto& node : node_ids()) {
    out += "  " + node + " log:\n" + tail_of(dir_ + "/" + node + "/log", 15);
  }
  out += "  haproxy log:\n" + tail_of(dir_ + "/haproxy.log", 15);
  return out;
}

}  // namespace isol8::test
