// isol8_bench: start-up latency of a sandboxed run compared with the bare program.
//
// For each pair it spawns the bare command and the same command through `isol8 run`, alternately
// (A B A B ...), so that drift on the machine (other builds, frequency changes, page cache)
// affects both sides equally. Each sample is the wall time from posix_spawn to waitpid, with
// stdin, stdout and stderr on /dev/null. The CPU time of the whole process tree (user + system,
// from wait4's rusage: the runner, the sandbox's init and the program) is reported next to it,
// since it is less sensitive than wall time to a busy machine; the kernel's asynchronous work
// (such as a network namespace's cleanup) is in neither. This is a measurement, never a
// pass/fail test.
//
//   isol8_bench [--runs N] [--warmup N] [--json] [--isol8 PATH] [--pair python|bash]...

#include <fcntl.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <numeric>
#include <string>
#include <vector>

#ifndef ISOL8_BINARY
#define ISOL8_BINARY "isol8"
#endif

extern char** environ;

namespace {

using Clock = std::chrono::steady_clock;

// The project's goal for the native backend on the reference machine (p50 overhead).
constexpr double kTargetOverheadMs = 3.0;

struct Pair {
  std::string name;
  std::vector<std::string> bare;
  std::vector<std::string> isol8;
};

struct Stats {
  double p50 = 0, p95 = 0, mean = 0, min = 0, max = 0, stddev = 0;
};

struct PairResult {
  const Pair* pair = nullptr;
  Stats bare, isol8;
  Stats bare_cpu, isol8_cpu;
};

struct Sample {
  double wall_ms = 0;
  double cpu_ms = 0;
};

struct Options {
  int runs = 200;
  int warmup = 10;
  bool json = false;
  std::string isol8 = ISOL8_BINARY;
  std::vector<std::string> pairs;  // empty: all
};

[[noreturn]] void die(const std::string& message) {
  std::fprintf(stderr, "isol8_bench: %s\n", message.c_str());
  std::exit(2);
}

double to_ms(const timeval& tv) {
  return static_cast<double>(tv.tv_sec) * 1e3 + static_cast<double>(tv.tv_usec) / 1e3;
}

// One spawn + wait, in milliseconds. Any failure ends the benchmark, since a failing command
// would measure an error path.
Sample time_once(const std::vector<std::string>& argv, const posix_spawn_file_actions_t& actions) {
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);

  const auto start = Clock::now();
  pid_t pid = 0;
  const int rc = ::posix_spawn(&pid, args[0], &actions, nullptr, args.data(), environ);
  if (rc != 0) die("posix_spawn " + argv[0] + ": " + std::strerror(rc));
  int status = 0;
  struct rusage usage {};
  // waitpid with the child's resource usage (its reaped descendants included).
  while (::wait4(pid, &status, 0, &usage) < 0) {
    if (errno != EINTR) die(std::string("wait4: ") + std::strerror(errno));
  }
  const auto end = Clock::now();

  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    std::string cmd;
    for (const auto& a : argv) cmd += (cmd.empty() ? "" : " ") + a;
    die("`" + cmd + "` failed (wait status " + std::to_string(status) +
        "); run it by hand to see its error");
  }
  return Sample{std::chrono::duration<double, std::milli>(end - start).count(),
                to_ms(usage.ru_utime) + to_ms(usage.ru_stime)};
}

// Linear interpolation between the closest ranks (the same definition as numpy's default).
double percentile(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0;
  const double rank = p / 100.0 * static_cast<double>(sorted.size() - 1);
  const auto lo = static_cast<size_t>(std::floor(rank));
  const auto hi = static_cast<size_t>(std::ceil(rank));
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (rank - static_cast<double>(lo));
}

Stats summarize(std::vector<double> samples) {
  std::sort(samples.begin(), samples.end());
  Stats s;
  if (samples.empty()) return s;
  const double n = static_cast<double>(samples.size());
  s.p50 = percentile(samples, 50);
  s.p95 = percentile(samples, 95);
  s.mean = std::accumulate(samples.begin(), samples.end(), 0.0) / n;
  s.min = samples.front();
  s.max = samples.back();
  double sq = 0;
  for (double v : samples) sq += (v - s.mean) * (v - s.mean);
  s.stddev = std::sqrt(sq / n);
  return s;
}

PairResult run_pair(const Pair& pair, const Options& opt,
                    const posix_spawn_file_actions_t& actions) {
  for (int i = 0; i < opt.warmup; ++i) {
    time_once(pair.bare, actions);
    time_once(pair.isol8, actions);
  }
  std::vector<double> bare, isol8, bare_cpu, isol8_cpu;
  for (int i = 0; i < opt.runs; ++i) {
    const Sample a = time_once(pair.bare, actions);
    const Sample b = time_once(pair.isol8, actions);
    bare.push_back(a.wall_ms);
    bare_cpu.push_back(a.cpu_ms);
    isol8.push_back(b.wall_ms);
    isol8_cpu.push_back(b.cpu_ms);
  }
  return PairResult{&pair, summarize(std::move(bare)), summarize(std::move(isol8)),
                    summarize(std::move(bare_cpu)), summarize(std::move(isol8_cpu))};
}

std::string read_loadavg() {
  std::ifstream in("/proc/loadavg");
  std::string a, b, c;
  in >> a >> b >> c;
  return a + " " + b + " " + c;
}

std::string join(const std::vector<std::string>& argv) {
  std::string out;
  for (const auto& a : argv) out += (out.empty() ? "" : " ") + a;
  return out;
}

std::string json_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else {
      out += c;
    }
  }
  return out;
}

void print_table(const std::vector<PairResult>& results, const Options& opt,
                 const std::string& load_before, const std::string& load_after) {
  std::printf("isol8 start-up latency: %d runs per command (+%d warm-up), interleaved bare/isol8\n",
              opt.runs, opt.warmup);
  std::printf("isol8: %s\n", opt.isol8.c_str());
  std::printf("load average: %s (before), %s (after); %ld CPUs\n\n", load_before.c_str(),
              load_after.c_str(), ::sysconf(_SC_NPROCESSORS_ONLN));
  std::printf("%-8s %-6s %9s %9s %9s %9s %9s %11s\n", "pair", "side", "p50 ms", "p95 ms", "mean ms",
              "min ms", "max ms", "cpu p50 ms");
  for (const auto& r : results) {
    std::printf("%-8s %-6s %9.2f %9.2f %9.2f %9.2f %9.2f %11.2f   %s\n", r.pair->name.c_str(),
                "bare", r.bare.p50, r.bare.p95, r.bare.mean, r.bare.min, r.bare.max, r.bare_cpu.p50,
                join(r.pair->bare).c_str());
    std::printf("%-8s %-6s %9.2f %9.2f %9.2f %9.2f %9.2f %11.2f   isol8 %s\n", "", "isol8",
                r.isol8.p50, r.isol8.p95, r.isol8.mean, r.isol8.min, r.isol8.max, r.isol8_cpu.p50,
                join({r.pair->isol8.begin() + 1, r.pair->isol8.end()}).c_str());
  }
  std::printf("\n%-8s %14s %14s %15s %10s %10s %14s\n", "pair", "overhead p50", "overhead p95",
              "overhead mean", "ratio p50", "ratio p95", "cpu over. p50");
  for (const auto& r : results) {
    std::printf("%-8s %11.2f ms %11.2f ms %12.2f ms %9.2fx %9.2fx %11.2f ms\n",
                r.pair->name.c_str(), r.isol8.p50 - r.bare.p50, r.isol8.p95 - r.bare.p95,
                r.isol8.mean - r.bare.mean, r.isol8.p50 / r.bare.p50, r.isol8.p95 / r.bare.p95,
                r.isol8_cpu.p50 - r.bare_cpu.p50);
  }
  std::printf("\ntarget: native overhead <= %.1f ms at p50 (reported, not asserted)\n",
              kTargetOverheadMs);
}

void print_stats_json(const char* key, const Stats& s) {
  std::printf(
      "\"%s\": {\"p50_ms\": %.3f, \"p95_ms\": %.3f, \"mean_ms\": %.3f, \"min_ms\": %.3f, "
      "\"max_ms\": %.3f, \"stddev_ms\": %.3f}",
      key, s.p50, s.p95, s.mean, s.min, s.max, s.stddev);
}

void print_json(const std::vector<PairResult>& results, const Options& opt,
                const std::string& load_before, const std::string& load_after) {
  std::printf("{\"runs\": %d, \"warmup\": %d, \"isol8\": \"%s\", \"cpus\": %ld, ", opt.runs,
              opt.warmup, json_escape(opt.isol8).c_str(), ::sysconf(_SC_NPROCESSORS_ONLN));
  std::printf("\"loadavg_before\": \"%s\", \"loadavg_after\": \"%s\", ", load_before.c_str(),
              load_after.c_str());
  std::printf("\"target_overhead_p50_ms\": %.1f, \"pairs\": [", kTargetOverheadMs);
  for (size_t i = 0; i < results.size(); ++i) {
    const auto& r = results[i];
    std::printf("%s{\"name\": \"%s\", \"bare_cmd\": \"%s\", \"isol8_cmd\": \"%s\", ",
                i == 0 ? "" : ", ", json_escape(r.pair->name).c_str(),
                json_escape(join(r.pair->bare)).c_str(), json_escape(join(r.pair->isol8)).c_str());
    print_stats_json("bare", r.bare);
    std::printf(", ");
    print_stats_json("isol8", r.isol8);
    std::printf(", ");
    print_stats_json("bare_cpu", r.bare_cpu);
    std::printf(", ");
    print_stats_json("isol8_cpu", r.isol8_cpu);
    std::printf(
        ", \"overhead_p50_ms\": %.3f, \"overhead_p95_ms\": %.3f, \"overhead_mean_ms\": %.3f, "
        "\"ratio_p50\": %.3f, \"ratio_p95\": %.3f}",
        r.isol8.p50 - r.bare.p50, r.isol8.p95 - r.bare.p95, r.isol8.mean - r.bare.mean,
        r.isol8.p50 / r.bare.p50, r.isol8.p95 / r.bare.p95);
  }
  std::printf("]}\n");
}

int parse_count(const char* flag, const char* value, int min) {
  char* end = nullptr;
  const long n = value != nullptr ? std::strtol(value, &end, 10) : -1;
  if (value == nullptr || *end != '\0' || n < min || n > 1000000) {
    die(std::string(flag) + " needs an integer >= " + std::to_string(min));
  }
  return static_cast<int>(n);
}

void usage() {
  std::printf(
      "usage: isol8_bench [--runs N] [--warmup N] [--json] [--isol8 PATH] [--pair NAME]...\n"
      "  --runs N     measured runs of each command (default 200)\n"
      "  --warmup N   unmeasured runs of each command first (default 10)\n"
      "  --json       print the results as JSON instead of a table\n"
      "  --isol8 PATH the isol8 binary (default: the one built with this benchmark)\n"
      "  --pair NAME  only this pair: python or bash (repeatable; default: both)\n");
}

Options parse_args(int argc, char** argv) {
  Options opt;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const char* next = i + 1 < argc ? argv[i + 1] : nullptr;
    if (arg == "--runs") {
      opt.runs = parse_count("--runs", next, 1);
      ++i;
    } else if (arg == "--warmup") {
      opt.warmup = parse_count("--warmup", next, 0);
      ++i;
    } else if (arg == "--json") {
      opt.json = true;
    } else if (arg == "--isol8") {
      if (next == nullptr) die("--isol8 needs a path");
      opt.isol8 = next;
      ++i;
    } else if (arg == "--pair") {
      if (next == nullptr || (std::strcmp(next, "python") != 0 && std::strcmp(next, "bash") != 0)) {
        die("--pair needs python or bash");
      }
      opt.pairs.push_back(next);
      ++i;
    } else if (arg == "-h" || arg == "--help") {
      usage();
      std::exit(0);
    } else {
      die("unknown argument " + arg + " (see --help)");
    }
  }
  return opt;
}

}  // namespace

int main(int argc, char** argv) {
  const Options opt = parse_args(argc, argv);
  if (::access(opt.isol8.c_str(), X_OK) != 0) die("cannot execute " + opt.isol8);

  const std::vector<Pair> all = {
      {"python", {"/usr/bin/python3", "-c", "pass"}, {opt.isol8, "run", "-e", "pass"}},
      {"bash", {"/bin/bash", "-c", "true"}, {opt.isol8, "run", "-r", "bash", "-e", "true"}},
  };

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);

  const std::string load_before = read_loadavg();
  std::vector<PairResult> results;
  for (const auto& pair : all) {
    if (!opt.pairs.empty() &&
        std::find(opt.pairs.begin(), opt.pairs.end(), pair.name) == opt.pairs.end()) {
      continue;
    }
    if (!opt.json) std::fprintf(stderr, "isol8_bench: measuring %s...\n", pair.name.c_str());
    results.push_back(run_pair(pair, opt, actions));
  }
  const std::string load_after = read_loadavg();
  posix_spawn_file_actions_destroy(&actions);

  if (opt.json) {
    print_json(results, opt, load_before, load_after);
  } else {
    print_table(results, opt, load_before, load_after);
  }
  return 0;
}
