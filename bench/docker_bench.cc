// docker_bench: latency of the docker backend, four ways, interleaved (A B C D A B C D ...) so
// that drift on the machine affects all alike:
//   raw     the baseline: Engine API create + attach + start + wait + remove of
//           `python3 -c pass` with this project's client (no isol8 logic, same hardening)
//   cli     `isol8 run --backend docker -e pass` (a process per run: the one-shot path)
//   pool    the library Engine with the warm pool (fast strategy), `pass`
//   native  `isol8 run -e pass` (the native backend)
//   docker  `docker run --rm --network none <image> python3 -c pass` (when the docker CLI is on
//           PATH): what the same run costs through Docker's own client
// Prints p50/p95/mean per way and the ratios to raw. A measurement, never a test.
//
//   docker_bench [--runs N] [--warmup N] [--image isol8:python]

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <functional>
#include <numeric>
#include <string>
#include <vector>

#include "backends/docker/client.h"
#include "backends/docker/demux.h"
#include "backends/docker/stream_pump.h"
#include "isol8/engine.h"

extern char** environ;

namespace {

using Clock = std::chrono::steady_clock;
using nlohmann::json;

double since_ms(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

int spawn_wait(const std::vector<std::string>& argv) {
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
  pid_t pid = 0;
  if (posix_spawnp(&pid, args[0], &fa, nullptr, args.data(), environ) != 0) return -1;
  posix_spawn_file_actions_destroy(&fa);
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

struct Stats {
  double p50 = 0, p95 = 0, mean = 0;
};

Stats stats(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  auto pct = [&](double p) {
    return v[std::min(v.size() - 1, static_cast<size_t>(p * (v.size() - 1) + 0.5))];
  };
  return {pct(0.5), pct(0.95), std::accumulate(v.begin(), v.end(), 0.0) / v.size()};
}

}  // namespace

int main(int argc, char** argv) {
  int runs = 50;
  int warmup = 3;
  std::string image = "isol8:python";
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--runs" && i + 1 < argc)
      runs = std::atoi(argv[++i]);
    else if (a == "--warmup" && i + 1 < argc)
      warmup = std::atoi(argv[++i]);
    else if (a == "--image" && i + 1 < argc)
      image = argv[++i];
    else {
      std::fprintf(stderr, "usage: docker_bench [--runs N] [--warmup N] [--image NAME]\n");
      return 2;
    }
  }
  auto client = isol8::docker::DockerClient::from_environment();
  if (!client || !(*client)->ping()) {
    std::fprintf(stderr, "docker_bench: no Docker daemon at DOCKER_HOST\n");
    return 1;
  }
  isol8::Options pool_options;
  pool_options.backend = isol8::BackendKind::kDocker;
  pool_options.pool_size = {1, 1};
  auto engine = isol8::Engine::create(pool_options);
  if (!engine) {
    std::fprintf(stderr, "docker_bench: %s\n", engine.error().message.c_str());
    return 1;
  }
  isol8::ExecutionRequest pass;
  pass.runtime = "python";
  pass.code = "pass";

  // The raw baseline: the minimum an Engine API client must do to run a program and get its
  // output and exit code, with the cheap hardening options (read-only root, tmpfs, user, no
  // capabilities, limits) but without the inline seccomp profile and docker-init that isol8
  // adds: their cost is part of what the ratio shows.
  const json raw_config = {
      {"Image", image},
      {"Cmd", {"python3", "-c", "pass"}},
      {"AttachStdout", true},
      {"AttachStderr", true},
      {"User", "100:101"},
      {"HostConfig",
       {{"NetworkMode", "none"},
        {"ReadonlyRootfs", true},
        {"CapDrop", {"ALL"}},
        {"Memory", 512 << 20},
        {"PidsLimit", 64},
        {"Tmpfs", {{"/sandbox", "rw,exec,size=512m"}, {"/tmp", "rw,noexec,size=256m"}}}}},
      {"Labels", {{"isol8.managed", "true"}}}};
  auto raw = [&]() -> bool {
    auto& c = **client;
    auto id = c.create_container(raw_config);
    if (!id) return false;
    auto stream = c.attach_container(*id, false);
    bool okay = stream && c.start_container(*id);
    if (okay) {
      isol8::docker::FrameDemuxer demux([](isol8::docker::FrameStream, std::string_view) {});
      okay = isol8::docker::pump_stream(*stream, {}, Clock::now() + std::chrono::seconds(30), -1,
                                        demux)
                 .has_value();
      okay = okay && c.wait_container(*id).has_value();
    }
    return c.remove_container(*id, true) && okay;
  };
  const std::string isol8_bin = ISOL8_BINARY;
  struct Way {
    const char* name;
    std::function<bool()> run;
    std::vector<double> samples;
  };
  std::vector<Way> ways = {
      {"raw Engine API (create/attach/start/wait/remove)", raw, {}},
      {"isol8 run --backend docker -e pass (CLI, cold)",
       [&] {
         return spawn_wait({isol8_bin, "run", "--backend", "docker", "-e", "pass"}) == 0;
       },
       {}},
      {"library Engine, warm pool (fast)",
       [&] {
         auto r = (*engine)->execute(pass);
         return r && r->exit_code == 0;
       },
       {}},
      {"isol8 run -e pass (native backend)",
       [&] {
         return spawn_wait({isol8_bin, "run", "-e", "pass"}) == 0;
       },
       {}},
  };
  if (spawn_wait({"docker", "version"}) == 0) {
    ways.push_back({"docker run --rm --network none (docker CLI)",
                    [&] {
                      return spawn_wait({"docker", "run", "--rm", "--network", "none", image,
                                         "python3", "-c", "pass"}) == 0;
                    },
                    {}});
  } else {
    std::fprintf(stderr, "docker_bench: no docker CLI on PATH; leaving out `docker run`\n");
  }
  for (int i = 0; i < warmup + runs; ++i) {
    for (auto& w : ways) {
      const auto t0 = Clock::now();
      if (!w.run()) {
        std::fprintf(stderr, "docker_bench: %s failed\n", w.name);
        return 1;
      }
      if (i >= warmup) w.samples.push_back(since_ms(t0));
    }
  }
  const Stats base = stats(ways[0].samples);
  double load[3] = {0, 0, 0};
  if (FILE* f = std::fopen("/proc/loadavg", "r")) {
    if (std::fscanf(f, "%lf %lf %lf", &load[0], &load[1], &load[2]) != 3) load[0] = -1;
    std::fclose(f);
  }
  std::printf(
      "%d runs each (after %d warm-ups), interleaved; image %s; load average %.2f %.2f "
      "%.2f\n",
      runs, warmup, image.c_str(), load[0], load[1], load[2]);
  std::printf("%-52s %9s %9s %9s %10s\n", "way", "p50 ms", "p95 ms", "mean ms", "p50/raw");
  for (auto& w : ways) {
    const Stats s = stats(w.samples);
    std::printf("%-52s %9.1f %9.1f %9.1f %9.2fx\n", w.name, s.p50, s.p95, s.mean, s.p50 / base.p50);
  }
  return 0;
}
