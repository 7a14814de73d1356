// cluster_bench: executions per second of `bash -c true` through HAProxy in front of 1, 2 and 3
// `isol8 serve` nodes (native backend), at a fixed concurrency, with each node's CPU seconds.
// The cluster is deploy/local-cluster's (PostgreSQL, n1..n3, HAProxy, all on this machine); the
// 1- and 2-node rows put the other nodes in maintenance through HAProxy's admin socket, so
// every row runs against the same processes.
//   cluster_bench [seconds per row, default 10] [concurrency, default 8]   (root)
// ISOL8_BIN names another isol8 binary than the build's.
// A measurement only: nothing here is a test. On one machine the nodes share its cores, so the
// rows show how the work spreads, not a scale-out.

#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "server_support.h"

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using Clock = std::chrono::steady_clock;

constexpr const char* kKey = "cluster-bench-key";
const std::vector<std::string> kNodes = {"n1", "n2", "n3"};

std::map<std::string, std::string> read_env(const std::string& path) {
  std::map<std::string, std::string> env;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) {
    const auto eq = line.find('=');
    if (eq != std::string::npos) env[line.substr(0, eq)] = line.substr(eq + 1);
  }
  return env;
}

// The fields after "pid (comm) " of /proc/<pid>/stat (state first), or none.
std::vector<std::string> stat_fields(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const auto close = text.rfind(')');
  std::vector<std::string> f;
  if (close == std::string::npos || close + 2 > text.size()) return f;
  std::istringstream fields(text.substr(close + 2));
  for (std::string s; fields >> s;) f.push_back(s);
  return f;
}

// CPU seconds of a process tree: each live process's utime + stime + cutime + cstime (the
// c-fields hold its reaped children, so every exited sandbox counts once, in its parent).
double tree_cpu_seconds(pid_t root) {
  std::map<pid_t, std::vector<pid_t>> children;
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    const std::string name = entry.path().filename();
    if (name.empty() || !std::isdigit(static_cast<unsigned char>(name[0]))) continue;
    const pid_t pid = std::stoi(name);
    const auto f = stat_fields(pid);
    if (f.size() > 2) children[std::stoi(f[1])].push_back(pid);
  }
  double ticks = 0;
  std::vector<pid_t> todo = {root};
  while (!todo.empty()) {
    const pid_t pid = todo.back();
    todo.pop_back();
    const auto f = stat_fields(pid);
    // utime, stime, cutime, cstime are stat fields 14-17: f[11..14].
    if (f.size() > 14) {
      for (int i = 11; i <= 14; ++i) ticks += std::stod(f[i]);
    }
    for (pid_t child : children[pid]) todo.push_back(child);
  }
  return ticks / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

// One command on HAProxy's admin socket; its reply.
std::string haproxy_command(const std::string& socket_path, const std::string& command) {
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  socket_path.copy(addr.sun_path, sizeof(addr.sun_path) - 1);
  std::string reply;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0) {
    const std::string line = command + "\n";
    if (::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size())) {
      char buf[4096];
      for (ssize_t n; (n = ::read(fd, buf, sizeof(buf))) > 0;) reply.append(buf, n);
    }
  }
  ::close(fd);
  return reply;
}

void remove_all(const std::string& path) {
  std::error_code ec;
  std::filesystem::remove_all(path, ec);
}

std::string shell_quoted(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

}  // namespace

int main(int argc, char** argv) {
  const auto seconds_arg = argc > 1 ? isol8::bench::positive_number(argv[1]) : 10.0;
  const auto concurrency_arg = argc > 2 ? isol8::bench::positive_number(argv[2]) : 8.0;
  if (!seconds_arg || !concurrency_arg || argc > 3) {
    std::fprintf(stderr,
                 "usage: cluster_bench [seconds per row, default 10] [concurrency, default 8]\n");
    return 2;
  }
  const double seconds = *seconds_arg;
  const int concurrency = static_cast<int>(*concurrency_arg);
  char dir_template[] = "/tmp/isol8-cluster-bench-XXXXXX";
  const std::string parent = ::mkdtemp(dir_template);
  const std::string dir = parent + "/cluster";
  const std::string script = std::string(ISOL8_SOURCE_DIR) + "/deploy/local-cluster";
  ::chmod(parent.c_str(), 0711);  // PostgreSQL runs as `postgres` under it
  const char* binary =
      std::getenv("ISOL8_BIN") != nullptr ? std::getenv("ISOL8_BIN") : ISOL8_BINARY;
  const std::string start = "ISOL8_BIN=" + shell_quoted(binary) + " ISOL8_CLUSTER_KEY=" + kKey +
                            " ISOL8_CLUSTER_NODE_CONFIG='{\"server\": {\"accessLog\": false}}' " +
                            shell_quoted(script) + " start " + shell_quoted(dir) + " >&2";
  if (std::system(start.c_str()) != 0) {
    std::fprintf(stderr, "cluster_bench: deploy/local-cluster start failed\n");
    remove_all(parent);
    return 1;
  }
  auto env = read_env(dir + "/cluster.env");
  const int port = std::stoi(env["ISOL8_CLUSTER_HAPROXY_PORT"]);
  const std::string admin = env["ISOL8_CLUSTER_ADMIN_SOCKET"];
  const pid_t haproxy_pid = std::stoi(env["ISOL8_CLUSTER_HAPROXY_PID"]);
  const pid_t pg_pid = std::stoi(env["ISOL8_CLUSTER_PG_PID"]);
  std::map<std::string, pid_t> node_pids;
  for (const auto& n : kNodes) {
    std::string upper = n;
    upper[0] = 'N';
    node_pids[n] = std::stoi(env["ISOL8_CLUSTER_" + upper + "_PID"]);
  }
  const std::string body = R"({"request":{"runtime":"bash","code":"true"}})";

  std::printf(
      "| nodes | concurrency | executions/s | p50 ms | p99 ms | errors | served (n1/n2/n3) | CPU s "
      "n1 / n2 / n3 | CPU s HAProxy | CPU s PostgreSQL |\n");
  std::printf("|---|---|---|---|---|---|---|---|---|---|\n");
  for (size_t active = 1; active <= kNodes.size(); ++active) {
    for (size_t i = 0; i < kNodes.size(); ++i) {
      const std::string verb = i < active ? "enable" : "disable";
      haproxy_command(admin, verb + " server ephemeral/" + kNodes[i]);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(500));  // let the states settle
    std::map<std::string, double> cpu_before;
    for (const auto& [n, pid] : node_pids) cpu_before[n] = tree_cpu_seconds(pid);
    const double haproxy_before = tree_cpu_seconds(haproxy_pid);
    const double pg_before = tree_cpu_seconds(pg_pid);

    std::vector<std::vector<double>> latencies(concurrency);
    std::vector<std::map<std::string, long>> served(concurrency);
    std::atomic<int> errors{0};
    const auto begin = Clock::now();
    const auto end = begin + std::chrono::duration<double>(seconds);
    std::vector<std::thread> threads;
    for (int t = 0; t < concurrency; ++t) {
      threads.emplace_back([&, t] {
        try {
          isol8::bench::KeepAliveClient c(port, kKey);
          while (Clock::now() < end) {
            const auto sent = Clock::now();
            const auto reply = c.post("/execute", body);
            const int status = reply.result_int();
            const std::string node(reply["X-Isol8-Node"]);
            if (status != 200) ++errors;
            served[t][node]++;
            latencies[t].push_back(
                std::chrono::duration<double, std::milli>(Clock::now() - sent).count());
          }
        } catch (...) {
          ++errors;
        }
      });
    }
    for (auto& th : threads) th.join();
    const double elapsed = std::chrono::duration<double>(Clock::now() - begin).count();
    std::vector<double> all;
    std::map<std::string, long> by_node;
    for (int t = 0; t < concurrency; ++t) {
      all.insert(all.end(), latencies[t].begin(), latencies[t].end());
      for (const auto& [n, count] : served[t]) by_node[n] += count;
    }
    std::sort(all.begin(), all.end());
    auto pct = [&](double p) {
      return all.empty() ? 0.0 : all[std::min(all.size() - 1, static_cast<size_t>(p * all.size()))];
    };
    std::printf(
        "| %zu | %d | %.1f | %.1f | %.1f | %d | %ld / %ld / %ld | %.1f / %.1f / %.1f | %.1f | %.1f "
        "|\n",
        active, concurrency, all.size() / elapsed, pct(0.5), pct(0.99), errors.load(),
        by_node["n1"], by_node["n2"], by_node["n3"],
        tree_cpu_seconds(node_pids["n1"]) - cpu_before["n1"],
        tree_cpu_seconds(node_pids["n2"]) - cpu_before["n2"],
        tree_cpu_seconds(node_pids["n3"]) - cpu_before["n3"],
        tree_cpu_seconds(haproxy_pid) - haproxy_before, tree_cpu_seconds(pg_pid) - pg_before);
    std::fflush(stdout);
  }
  std::printf("\n%.0f s per row, %ld cores; load average: ", seconds,
              ::sysconf(_SC_NPROCESSORS_ONLN));
  std::ifstream loadavg("/proc/loadavg");
  std::string load;
  std::getline(loadavg, load);
  std::printf("%s\n", load.c_str());
  const std::string stop = shell_quoted(script) + " stop " + shell_quoted(dir) + " >&2";
  const int stopped = std::system(stop.c_str());
  remove_all(parent);
  return stopped == 0 ? 0 : 1;
}
