// isol8_filtered_bench: what --net filtered adds to a native run, against --net none, alternately
// (ABAB) so that drift on the machine affects both sides equally. A measurement, never a
// pass/fail test. Three modes:
//
//   (default)    through the backend in this process, with the real filtering proxy;
//   --one-shot   the same, but every sample also creates and destroys the backend, as one
//                `isol8 run` does (the backend then prepares the first network while it compiles
//                seccomp, and the teardown is in the sample);
//   --cli        end to end: spawns `isol8 run -r bash -e true` with `--net none` and with
//                `--net filtered --allow example.com`, stdio on /dev/null, wall time from
//                posix_spawn to wait4 (everything a user waits for, process exit included).
//
// --bare-listener replaces the proxy by a listener that only binds its socket, so that the
// figures are the network plumbing's own: slot claim, namespace, veth, addresses, route,
// nftables table, setns around clone3, and the teardown.
//
//   isol8_filtered_bench [--runs N] [--warmup N] [--program PATH] [--one-shot] [--bare-listener]
//   isol8_filtered_bench --cli [--isol8 PATH] [--runs N] [--warmup N]

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "backends/native/native_backend.h"

#ifndef ISOL8_BINARY
#define ISOL8_BINARY "isol8"
#endif

extern char** environ;

namespace isol8 {
namespace {

using Clock = std::chrono::steady_clock;

class BoundOnly final : public RunProxy {
 public:
  explicit BoundOnly(UniqueFd fd) : fd_(std::move(fd)) {}
  std::vector<NetworkLogEntry> take_logs() override { return {}; }

 private:
  UniqueFd fd_;
};

Result<std::unique_ptr<RunProxy>> bind_only(const NetworkFilter&, bool, const ProxyListen& l) {
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(l.tcp_port);
  ::inet_pton(AF_INET, l.tcp_address.c_str(), &sa.sin_addr);
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0 ||
      ::listen(fd.get(), 4) != 0) {
    return errno_error("bind " + l.tcp_address);
  }
  return std::unique_ptr<RunProxy>(new BoundOnly(std::move(fd)));
}

struct NullSink final : OutputSink {
  void on_output(OutputStream, std::string_view) override {}
};

double percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  const size_t i = std::min(v.size() - 1, static_cast<size_t>(p * (v.size() - 1) + 0.5));
  return v[i];
}

std::string load_average() {
  std::ifstream in("/proc/loadavg");
  std::string one, five, fifteen;
  in >> one >> five >> fifteen;
  return one + " " + five + " " + fifteen;
}

void report(const std::string& what, const std::vector<double>& none_ms,
            const std::vector<double>& filtered_ms, const std::string& load_before,
            const char* unit = "wall") {
  const double n50 = percentile(none_ms, 0.5), n95 = percentile(none_ms, 0.95);
  const double f50 = percentile(filtered_ms, 0.5), f95 = percentile(filtered_ms, 0.95);
  std::printf("%s, %zu runs each (ABAB), %s time; load average before %s, after %s\n", what.c_str(),
              none_ms.size(), unit, load_before.c_str(), load_average().c_str());
  std::printf("  --net none     p50 %7.2f ms  p95 %7.2f ms\n", n50, n95);
  std::printf("  --net filtered p50 %7.2f ms  p95 %7.2f ms\n", f50, f95);
  std::printf("  filtered adds  p50 %7.2f ms  p95 %7.2f ms  (ratio p50 %.2fx)\n", f50 - n50,
              f95 - n95, f50 / n50);
}

struct CliSample {
  double wall_ms = 0;
  double cpu_ms = 0;  // user + system of the process tree (the kernel's async work is not in it)
};

double to_ms(const timeval& tv) {
  return static_cast<double>(tv.tv_sec) * 1e3 + static_cast<double>(tv.tv_usec) / 1e3;
}

// One `isol8 run` from posix_spawn to wait4; a failure ends the benchmark, since it would
// measure an error path.
Result<CliSample> time_cli(const std::vector<std::string>& argv) {
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  ::posix_spawn_file_actions_init(&actions);
  for (int fd : {0, 1, 2}) {
    ::posix_spawn_file_actions_addopen(&actions, fd, "/dev/null", fd == 0 ? O_RDONLY : O_WRONLY, 0);
  }
  const auto start = Clock::now();
  pid_t pid = 0;
  const int rc = ::posix_spawn(&pid, args[0], &actions, nullptr, args.data(), environ);
  ::posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) return errno_error("posix_spawn " + argv[0], rc);
  int status = 0;
  struct rusage usage {};
  while (::wait4(pid, &status, 0, &usage) < 0) {
    if (errno != EINTR) return errno_error("wait4");
  }
  const double ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    std::string cmd;
    for (const auto& a : argv) cmd += (cmd.empty() ? "" : " ") + a;
    return make_error("`" + cmd + "` failed (wait status " + std::to_string(status) +
                      "); run it by hand to see its error");
  }
  return CliSample{ms, to_ms(usage.ru_utime) + to_ms(usage.ru_stime)};
}

int run_cli(const std::string& isol8, int runs, int warmup) {
  const std::vector<std::string> none = {isol8, "run", "-r", "bash", "--net", "none", "-e", "true"};
  const std::vector<std::string> filtered = {
      isol8, "run", "-r", "bash", "--net", "filtered", "--allow", "example\\.com", "-e", "true"};
  std::vector<double> none_ms, filtered_ms, none_cpu, filtered_cpu;
  const std::string load_before = load_average();
  for (int i = 0; i < warmup + runs; ++i) {
    for (const auto* argv : {&none, &filtered}) {
      auto sample = time_cli(*argv);
      if (!sample) {
        std::fprintf(stderr, "isol8_filtered_bench: %s\n", sample.error().message.c_str());
        return 1;
      }
      if (i < warmup) continue;
      (argv == &none ? none_ms : filtered_ms).push_back(sample->wall_ms);
      (argv == &none ? none_cpu : filtered_cpu).push_back(sample->cpu_ms);
    }
  }
  const std::string what = "`isol8 run -r bash -e true` (" + isol8 + ", the real proxy)";
  report(what, none_ms, filtered_ms, load_before);
  report(what, none_cpu, filtered_cpu, load_before, "CPU (user + system)");
  return 0;
}

int main_impl(int argc, char** argv) {
  int runs = 200;
  int warmup = 10;
  std::string program = "/bin/true";
  std::string isol8 = ISOL8_BINARY;
  bool one_shot = false;
  bool bare_listener = false;
  bool cli = false;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--one-shot") == 0) one_shot = true;
    if (std::strcmp(argv[i], "--bare-listener") == 0) bare_listener = true;
    if (std::strcmp(argv[i], "--cli") == 0) cli = true;
    if (i + 1 >= argc) continue;
    if (std::strcmp(argv[i], "--runs") == 0) runs = std::atoi(argv[i + 1]);
    if (std::strcmp(argv[i], "--warmup") == 0) warmup = std::atoi(argv[i + 1]);
    if (std::strcmp(argv[i], "--program") == 0) program = argv[i + 1];
    if (std::strcmp(argv[i], "--isol8") == 0) isol8 = argv[i + 1];
  }
  if (runs < 1 || warmup < 0) {
    std::fprintf(stderr, "isol8_filtered_bench: --runs must be positive, --warmup not negative\n");
    return 2;
  }
  if (cli) return run_cli(isol8, runs, warmup);
  const auto make = [bare_listener](bool filtered) {
    NativeBackendConfig config;
    if (bare_listener) config.proxy_starter = bind_only;
    config.prepare_filtered_network = filtered;
    return make_native_backend(config);
  };
  auto backend = make(false);
  if (!backend) {
    std::fprintf(stderr, "%s\n", backend.error().message.c_str());
    return 1;
  }
  std::vector<double> none_ms;
  std::vector<double> filtered_ms;
  NullSink sink;
  RunControl control{};
  const std::string load_before = load_average();
  for (int i = 0; i < warmup + runs; ++i) {
    for (const NetworkMode mode : {NetworkMode::kNone, NetworkMode::kFiltered}) {
      RunSpec spec;
      spec.argv = {program};
      spec.env = {"PATH=/usr/bin:/bin"};
      spec.network = mode;
      spec.network_filter.whitelist = {"example\\.com"};
      const auto start = Clock::now();
      Result<std::unique_ptr<Backend>> fresh = make_error("unused");
      if (one_shot) {
        fresh = make(mode == NetworkMode::kFiltered);
        if (!fresh) {
          std::fprintf(stderr, "%s\n", fresh.error().message.c_str());
          return 1;
        }
      }
      auto outcome = (one_shot ? *fresh : *backend)->run(spec, sink, control);
      if (one_shot) fresh->reset();
      const double ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
      if (!outcome || outcome->exit_code != 0) {
        std::fprintf(stderr, "run failed: %s\n",
                     outcome ? "non-zero exit" : outcome.error().message.c_str());
        return 1;
      }
      if (i >= warmup) (mode == NetworkMode::kNone ? none_ms : filtered_ms).push_back(ms);
    }
  }
  report(program + (one_shot ? ", a new backend per run" : ", one backend") +
             (bare_listener ? ", bare listener instead of the proxy" : ", the real proxy"),
         none_ms, filtered_ms, load_before);
  return 0;
}

}  // namespace
}  // namespace isol8

int main(int argc, char** argv) { return isol8::main_impl(argc, argv); }
