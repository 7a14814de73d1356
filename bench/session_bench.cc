// isol8_session_bench: a native persistent session and the warm pool against one-shot runs,
// through the library. Reports the time to open a session (the first execute of a persistent
// engine minus a later one), and p50/p95 of `bash -c true` and `python3 -c pass` executed in a
// session, in a fresh sandbox per run (an ephemeral engine without a pool: poolSize 0), in a
// pooled fresh sandbox per run (poolSize 2: prepared ahead, used once), and bare on the host,
// measured alternately so that drift on the machine affects every row alike. A measurement,
// never a pass/fail test.
//
//   isol8_session_bench [--runs N] [--opens N]

#include <spawn.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "isol8/engine.h"

extern char** environ;

namespace {

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

struct Row {
  std::string name;
  std::vector<double> samples;
  void report() {
    std::sort(samples.begin(), samples.end());
    auto at = [&](double q) { return samples[static_cast<size_t>(q * (samples.size() - 1))]; };
    std::printf("%-34s p50 %8.2f ms  p95 %8.2f ms  (n=%zu)\n", name.c_str(), at(0.5), at(0.95),
                samples.size());
  }
};

double bare(const std::vector<const char*>& argv) {
  const auto start = Clock::now();
  pid_t pid = 0;
  std::vector<char*> args;
  for (const char* a : argv) args.push_back(const_cast<char*>(a));
  args.push_back(nullptr);
  if (posix_spawn(&pid, args[0], nullptr, nullptr, args.data(), environ) != 0) return -1;
  int status = 0;
  waitpid(pid, &status, 0);
  return ms_since(start);
}

isol8::ExecutionRequest request(const std::string& runtime) {
  isol8::ExecutionRequest req;
  req.runtime = runtime;
  req.code = runtime == "bash" ? "true" : "pass";
  return req;
}

double timed_execute(isol8::Engine& engine, const isol8::ExecutionRequest& req) {
  const auto start = Clock::now();
  auto r = engine.execute(req);
  if (!r || r->exit_code != 0) {
    std::fprintf(stderr, "execute failed: %s\n",
                 r ? r->stderr_data.c_str() : r.error().message.c_str());
    std::exit(1);
  }
  return ms_since(start);
}

}  // namespace

int main(int argc, char** argv) {
  int runs = 100, opens = 20;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--runs") == 0) runs = std::atoi(argv[i + 1]);
    if (std::strcmp(argv[i], "--opens") == 0) opens = std::atoi(argv[i + 1]);
  }
  isol8::Options base;
  base.network = isol8::NetworkMode::kNone;
  // An empty store: the host-root mode, so that the sandbox runs the same /usr/bin/python3 and
  // /bin/bash as the bare rows.
  char store[] = "/tmp/isol8-session-bench-XXXXXX";
  if (mkdtemp(store) == nullptr) return 1;
  base.rootfs_store = store;
  base.pool_size = isol8::PoolSize{0, 0};
  isol8::Options pooled_options = base;
  pooled_options.pool_size = isol8::PoolSize{2, 2};
  isol8::Options persistent = base;
  persistent.mode = isol8::EngineMode::kPersistent;

  Row open{"session open (first - later execute)", {}};
  for (int i = 0; i < opens; ++i) {
    auto engine = isol8::Engine::create(persistent);
    if (!engine) {
      std::fprintf(stderr, "%s\n", engine.error().message.c_str());
      return 1;
    }
    const double first = timed_execute(**engine, request("bash"));
    const double later = timed_execute(**engine, request("bash"));
    open.samples.push_back(first - later);
  }
  open.report();

  for (const std::string runtime : {"bash", "python"}) {
    auto session = isol8::Engine::create(persistent);
    auto oneshot = isol8::Engine::create(base);
    auto pooled = isol8::Engine::create(pooled_options);
    if (!session || !oneshot || !pooled) return 1;
    const auto req = request(runtime);
    timed_execute(**session, req);
    timed_execute(**oneshot, req);
    timed_execute(**pooled, req);  // the first run of a shape: the pool starts filling
    Row in_session{runtime + " in a session", {}};
    Row one{runtime + " one-shot (poolSize 0)", {}};
    Row pool{runtime + " pooled (poolSize 2)", {}};
    Row host{runtime + " bare", {}};
    const std::vector<const char*> bare_argv =
        runtime == "bash" ? std::vector<const char*>{"/bin/bash", "-c", "true"}
                          : std::vector<const char*>{"/usr/bin/python3", "-c", "pass"};
    for (int i = 0; i < runs; ++i) {
      in_session.samples.push_back(timed_execute(**session, req));
      one.samples.push_back(timed_execute(**oneshot, req));
      pool.samples.push_back(timed_execute(**pooled, req));
      host.samples.push_back(bare(bare_argv));
    }
    in_session.report();
    one.report();
    pool.report();
    host.report();
  }
  ::rmdir(store);
  return 0;
}
