// isol8_filtered_bench: what --net filtered adds to a native run, against --net none in the same
// process and the same run (ABAB), through the backend (the CLI would add the same constant to
// both). The proxy is replaced by a listener that only binds its socket, so the figures are the
// network plumbing's own: slot claim, namespace, veth, addresses, route, nftables table, setns
// around clone3, and the teardown. A measurement, never a pass/fail test.
//
// With --one-shot every sample also creates and destroys the backend, as one `isol8 run` does
// (the backend then prepares the first network while it compiles seccomp, and the teardown is
// in the sample).
//
//   isol8_filtered_bench [--runs N] [--warmup N] [--program PATH] [--one-shot]

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "backends/native/native_backend.h"

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

int main_impl(int argc, char** argv) {
  int runs = 200;
  int warmup = 10;
  std::string program = "/bin/true";
  bool one_shot = false;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--one-shot") == 0) one_shot = true;
    if (i + 1 >= argc) continue;
    if (std::strcmp(argv[i], "--runs") == 0) runs = std::atoi(argv[i + 1]);
    if (std::strcmp(argv[i], "--warmup") == 0) warmup = std::atoi(argv[i + 1]);
    if (std::strcmp(argv[i], "--program") == 0) program = argv[i + 1];
  }
  const auto make = [](bool filtered) {
    NativeBackendConfig config;
    config.proxy_starter = bind_only;
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
  for (int i = 0; i < warmup + runs; ++i) {
    for (const NetworkMode mode : {NetworkMode::kNone, NetworkMode::kFiltered}) {
      RunSpec spec;
      spec.argv = {program};
      spec.env = {"PATH=/usr/bin:/bin"};
      spec.network = mode;
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
  const double n50 = percentile(none_ms, 0.5), n95 = percentile(none_ms, 0.95);
  const double f50 = percentile(filtered_ms, 0.5), f95 = percentile(filtered_ms, 0.95);
  std::printf("%s, %d runs each (ABAB)%s\n", program.c_str(), runs,
              one_shot ? ", a new backend per run" : ", one backend");
  std::printf("  --net none     p50 %7.2f ms  p95 %7.2f ms\n", n50, n95);
  std::printf("  --net filtered p50 %7.2f ms  p95 %7.2f ms\n", f50, f95);
  std::printf("  filtered adds  p50 %7.2f ms  p95 %7.2f ms  (ratio p50 %.2fx)\n", f50 - n50,
              f95 - n95, f50 / n50);
  return 0;
}

}  // namespace
}  // namespace isol8

int main(int argc, char** argv) { return isol8::main_impl(argc, argv); }
