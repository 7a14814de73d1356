// server_bench: executions per second and p50/p99 latency of `bash -c true` and `python -c pass`
// through POST /execute at concurrency 1, 4 and 16, against a server this program starts
// (`isol8 serve` on a loopback port, maxConcurrent 16), plus the server's peak RSS.
//   server_bench [seconds per cell, default 5] [native|docker, default native]   (root)
// A measurement only: nothing here is a test.

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "server_support.h"

extern char** environ;

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using Clock = std::chrono::steady_clock;

constexpr const char* kKey = "bench-key";

long rss_kb(pid_t pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::stol(line.substr(6));
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const auto seconds_arg = argc > 1 ? isol8::bench::positive_number(argv[1]) : 5.0;
  const std::string backend = argc > 2 ? argv[2] : "native";
  if (!seconds_arg || argc > 3) {
    std::fprintf(stderr, "usage: server_bench [seconds per cell, default 5] [native|docker]\n");
    return 2;
  }
  const double seconds = *seconds_arg;
  if (backend != "native" && backend != "docker") {
    std::fprintf(stderr, "server_bench: the backend is native or docker, not %s\n",
                 backend.c_str());
    return 1;
  }
  const int port = isol8::bench::free_port();
  char dir_template[] = "/tmp/isol8-server-bench-XXXXXX";
  const std::string dir = mkdtemp(dir_template);
  std::ofstream(dir + "/isol8.config.json")
      << R"({"backend": ")" << backend
      << R"(", "maxConcurrent": 16, "server": {"queueSize": 64, "accessLog": false}})";
  pid_t pid = 0;
  std::string port_text = std::to_string(port);
  std::vector<std::string> args = {ISOL8_BINARY, "serve", "--port", port_text,
                                   "--key",      kKey,    "--bind", "127.0.0.1"};
  std::vector<char*> argv_c;
  for (auto& a : args) argv_c.push_back(a.data());
  argv_c.push_back(nullptr);
  if (chdir(dir.c_str()) != 0) return 1;
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
  if (posix_spawn(&pid, ISOL8_BINARY, &fa, nullptr, argv_c.data(), environ) != 0) return 1;
  for (int i = 0; i < 200; ++i) {
    try {
      isol8::bench::KeepAliveClient probe(port, kKey);
      break;
    } catch (...) {
      std::this_thread::sleep_for(std::chrono::milliseconds(25));
    }
  }
  std::printf("| request | concurrency | executions/s | p50 ms | p99 ms | errors |\n");
  std::printf("|---|---|---|---|---|---|\n");
  const std::vector<std::pair<std::string, std::string>> requests = {
      {"bash -c true", R"({"request":{"runtime":"bash","cmd":"true"}})"},
      {"python -c pass", R"({"request":{"runtime":"python","code":"pass"}})"}};
  for (const auto& [name, body] : requests) {
    for (int concurrency : {1, 4, 16}) {
      std::vector<std::vector<double>> latencies(concurrency);
      std::atomic<int> errors{0};
      const auto end = Clock::now() + std::chrono::duration<double>(seconds);
      std::vector<std::thread> threads;
      for (int t = 0; t < concurrency; ++t) {
        threads.emplace_back([&, t] {
          try {
            isol8::bench::KeepAliveClient c(port, kKey);
            while (Clock::now() < end) {
              const auto start = Clock::now();
              const int status = c.post("/execute", body).result_int();
              if (status != 200) ++errors;
              latencies[t].push_back(
                  std::chrono::duration<double, std::milli>(Clock::now() - start).count());
            }
          } catch (...) {
            ++errors;
          }
        });
      }
      for (auto& th : threads) th.join();
      std::vector<double> all;
      for (auto& l : latencies) all.insert(all.end(), l.begin(), l.end());
      std::sort(all.begin(), all.end());
      auto pct = [&](double p) {
        return all.empty() ? 0.0
                           : all[std::min(all.size() - 1, static_cast<size_t>(p * all.size()))];
      };
      std::printf("| %s | %d | %.1f | %.1f | %.1f | %d |\n", name.c_str(), concurrency,
                  all.size() / seconds, pct(0.5), pct(0.99), errors.load());
      std::fflush(stdout);
    }
  }
  std::printf("\nserver peak RSS: %ld KiB\n", rss_kb(pid));
  kill(pid, SIGTERM);
  int status = 0;
  waitpid(pid, &status, 0);
  std::string rm = "rm -rf " + dir;
  return std::system(rm.c_str()) == 0 ? 0 : 1;
}
