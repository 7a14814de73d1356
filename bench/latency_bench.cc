// isol8_bench: start-up latency of a sandboxed run next to the bare program and to other ways of
// sandboxing it (unshare, bubblewrap), in one run so that the comparison holds on a busy machine.
//
// Each group is a list of commands that run in rotation (A B C D A B C D ...), so that drift on the
// machine (other builds, frequency changes, page cache) affects all of them alike. Each sample is
// the wall time from posix_spawn to wait4, with stdin, stdout and stderr on /dev/null. The CPU
// time of the whole process tree (user + system, from wait4's rusage: the runner, the sandbox's
// init and the program, as all are reaped within the tree) is reported next to it, since it is less
// sensitive than wall time to a busy machine; the kernel's asynchronous work (such as a network
// namespace's cleanup) is in neither. The first command of a group is its baseline: every other
// row shows its overhead and ratio against it. This is a measurement, never a pass/fail test.
//
//   isol8_bench [--runs N] [--warmup N] [--json] [--isol8 PATH] [--group bash|python|net]...
//
// Groups: bash (bash -c true: bare, unshare, bwrap, isol8), python (python3 -c pass: bare, bwrap,
// isol8 with its runtime root) and net (isol8 with --net none, filtered in the default mode and
// filtered through the relay; not in the default set, as it needs root for the veth mode).

#include <fcntl.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
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

// The project's goals for the native backend on the reference machine (issue 20), at p50.
constexpr double kTargetBashOverheadMs = 3.0;  // isol8 bash over bare bash
constexpr double kTargetPythonRatio = 1.3;     // isol8 python over bare python
constexpr double kTargetFilteredMs = 3.0;      // filtered over none

struct Command {
  std::string label;
  std::vector<std::string> argv;
  std::string cwd;  // empty: the benchmark's own
};

struct Group {
  std::string name;
  std::vector<Command> commands;  // [0] is the baseline
};

struct Stats {
  double p50 = 0, p95 = 0, mean = 0, min = 0, max = 0, stddev = 0;
};

struct RowResult {
  const Command* command = nullptr;
  Stats wall, cpu;
};

struct GroupResult {
  const Group* group = nullptr;
  std::vector<RowResult> rows;
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
  std::vector<std::string> groups;  // empty: bash and python
};

[[noreturn]] void die(const std::string& message) {
  std::fprintf(stderr, "isol8_bench: %s\n", message.c_str());
  std::exit(2);
}

double to_ms(const timeval& tv) {
  return static_cast<double>(tv.tv_sec) * 1e3 + static_cast<double>(tv.tv_usec) / 1e3;
}

std::string join(const std::vector<std::string>& argv) {
  std::string out;
  for (const auto& a : argv) out += (out.empty() ? "" : " ") + a;
  return out;
}

// One spawn + wait, in milliseconds. Any failure ends the benchmark, since a failing command
// would measure an error path.
Sample time_once(const Command& command) {
  std::vector<char*> args;
  for (const auto& a : command.argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
  if (!command.cwd.empty()) posix_spawn_file_actions_addchdir_np(&actions, command.cwd.c_str());

  const auto start = Clock::now();
  pid_t pid = 0;
  const int rc = ::posix_spawn(&pid, args[0], &actions, nullptr, args.data(), environ);
  if (rc != 0) die("posix_spawn " + command.argv[0] + ": " + std::strerror(rc));
  int status = 0;
  struct rusage usage {};
  // waitpid with the child's resource usage (its reaped descendants included).
  while (::wait4(pid, &status, 0, &usage) < 0) {
    if (errno != EINTR) die(std::string("wait4: ") + std::strerror(errno));
  }
  const auto end = Clock::now();
  posix_spawn_file_actions_destroy(&actions);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    die("`" + join(command.argv) + "` failed (wait status " + std::to_string(status) +
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

GroupResult run_group(const Group& group, const Options& opt) {
  const size_t n = group.commands.size();
  for (int i = 0; i < opt.warmup; ++i) {
    for (const Command& c : group.commands) time_once(c);
  }
  std::vector<std::vector<double>> wall(n), cpu(n);
  for (int i = 0; i < opt.runs; ++i) {
    // The starting command rotates too, so that none always follows the same neighbour.
    for (size_t k = 0; k < n; ++k) {
      const size_t j = (k + static_cast<size_t>(i)) % n;
      const Sample s = time_once(group.commands[j]);
      wall[j].push_back(s.wall_ms);
      cpu[j].push_back(s.cpu_ms);
    }
  }
  GroupResult result{&group, {}};
  for (size_t j = 0; j < n; ++j) {
    result.rows.push_back(
        RowResult{&group.commands[j], summarize(std::move(wall[j])), summarize(std::move(cpu[j]))});
  }
  return result;
}

std::string read_loadavg() {
  std::ifstream in("/proc/loadavg");
  std::string a, b, c;
  in >> a >> b >> c;
  return a + " " + b + " " + c;
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

const RowResult* find_row(const std::vector<GroupResult>& results, const std::string& group,
                          const std::string& label) {
  for (const auto& g : results) {
    if (g.group->name != group) continue;
    for (const auto& r : g.rows) {
      if (r.command->label == label) return &r;
    }
  }
  return nullptr;
}

// The goals, as measured in this run (reported, never asserted).
void print_goals(const std::vector<GroupResult>& results) {
  const RowResult* bash = find_row(results, "bash", "bare");
  const RowResult* bash_bwrap = find_row(results, "bash", "bwrap");
  const RowResult* bash_isol8 = find_row(results, "bash", "isol8");
  const RowResult* py = find_row(results, "python", "bare");
  const RowResult* py_isol8 = find_row(results, "python", "isol8");
  std::printf("\ngoals at p50 (reported, not asserted):\n");
  if (bash && bash_bwrap && bash_isol8) {
    std::printf("  isol8 bash <= bwrap bash:          %6.2f vs %6.2f ms  %s\n",
                bash_isol8->wall.p50, bash_bwrap->wall.p50,
                bash_isol8->wall.p50 <= bash_bwrap->wall.p50 ? "met" : "NOT met");
  }
  if (bash && bash_isol8) {
    const double over = bash_isol8->wall.p50 - bash->wall.p50;
    std::printf("  isol8 bash - bare bash <= %.0f ms:    %6.2f ms           %s\n",
                kTargetBashOverheadMs, over, over <= kTargetBashOverheadMs ? "met" : "NOT met");
  }
  if (py && py_isol8) {
    const double ratio = py_isol8->wall.p50 / py->wall.p50;
    std::printf("  isol8 python / bare python <= %.1fx: %6.2fx            %s\n", kTargetPythonRatio,
                ratio, ratio <= kTargetPythonRatio ? "met" : "NOT met");
  }
  const RowResult* none = find_row(results, "net", "none");
  for (const char* mode : {"filtered", "filtered-relay"}) {
    const RowResult* f = find_row(results, "net", mode);
    if (!none || !f) continue;
    const double over = f->wall.p50 - none->wall.p50;
    std::printf("  %-15s - none <= %.0f ms:       %6.2f ms           %s\n", mode, kTargetFilteredMs,
                over, over <= kTargetFilteredMs ? "met" : "NOT met");
  }
}

void print_table(const std::vector<GroupResult>& results, const Options& opt,
                 const std::string& load_before, const std::string& load_after) {
  std::printf("isol8 start-up latency: %d runs per command (+%d warm-up), in rotation\n", opt.runs,
              opt.warmup);
  std::printf("isol8: %s\n", opt.isol8.c_str());
  std::printf("load average: %s (before), %s (after); %ld CPUs\n", load_before.c_str(),
              load_after.c_str(), ::sysconf(_SC_NPROCESSORS_ONLN));
  for (const auto& g : results) {
    const RowResult& base = g.rows.front();
    std::printf("\n%-7s %-15s %8s %8s %8s %8s %8s %9s %9s %8s %7s\n", g.group->name.c_str(),
                "command", "p50 ms", "p95 ms", "mean ms", "min ms", "max ms", "cpu p50", "cpu mean",
                "over p50", "ratio");
    for (const auto& r : g.rows) {
      std::printf("%-7s %-15s %8.2f %8.2f %8.2f %8.2f %8.2f %9.2f %9.2f %8.2f %6.2fx   %s\n", "",
                  r.command->label.c_str(), r.wall.p50, r.wall.p95, r.wall.mean, r.wall.min,
                  r.wall.max, r.cpu.p50, r.cpu.mean, r.wall.p50 - base.wall.p50,
                  r.wall.p50 / base.wall.p50, join(r.command->argv).c_str());
    }
  }
  print_goals(results);
}

void print_stats_json(const char* key, const Stats& s) {
  std::printf(
      "\"%s\": {\"p50_ms\": %.3f, \"p95_ms\": %.3f, \"mean_ms\": %.3f, \"min_ms\": %.3f, "
      "\"max_ms\": %.3f, \"stddev_ms\": %.3f}",
      key, s.p50, s.p95, s.mean, s.min, s.max, s.stddev);
}

void print_json(const std::vector<GroupResult>& results, const Options& opt,
                const std::string& load_before, const std::string& load_after) {
  std::printf("{\"runs\": %d, \"warmup\": %d, \"isol8\": \"%s\", \"cpus\": %ld, ", opt.runs,
              opt.warmup, json_escape(opt.isol8).c_str(), ::sysconf(_SC_NPROCESSORS_ONLN));
  std::printf("\"loadavg_before\": \"%s\", \"loadavg_after\": \"%s\", \"groups\": [",
              load_before.c_str(), load_after.c_str());
  for (size_t i = 0; i < results.size(); ++i) {
    const auto& g = results[i];
    std::printf("%s{\"name\": \"%s\", \"rows\": [", i == 0 ? "" : ", ",
                json_escape(g.group->name).c_str());
    for (size_t j = 0; j < g.rows.size(); ++j) {
      const auto& r = g.rows[j];
      std::printf("%s{\"label\": \"%s\", \"cmd\": \"%s\", ", j == 0 ? "" : ", ",
                  json_escape(r.command->label).c_str(),
                  json_escape(join(r.command->argv)).c_str());
      print_stats_json("wall", r.wall);
      std::printf(", ");
      print_stats_json("cpu", r.cpu);
      std::printf(", \"overhead_p50_ms\": %.3f, \"ratio_p50\": %.3f}",
                  r.wall.p50 - g.rows.front().wall.p50, r.wall.p50 / g.rows.front().wall.p50);
    }
    std::printf("]}");
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
      "usage: isol8_bench [--runs N] [--warmup N] [--json] [--isol8 PATH] [--group NAME]...\n"
      "  --runs N      measured runs of each command (default 200)\n"
      "  --warmup N    unmeasured runs of each command first (default 10)\n"
      "  --json        print the results as JSON instead of a table\n"
      "  --isol8 PATH  the isol8 binary (default: the one built with this benchmark)\n"
      "  --group NAME  bash, python or net (repeatable; default: bash and python)\n");
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
    } else if (arg == "--group" || arg == "--pair") {
      const std::string name = next != nullptr ? next : "";
      if (name != "python" && name != "bash" && name != "net") {
        die("--group needs bash, python or net");
      }
      opt.groups.push_back(name);
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

bool is_symlink(const char* path) {
  struct stat st;
  return ::lstat(path, &st) == 0 && S_ISLNK(st.st_mode);
}

// bubblewrap with every namespace it has, a read-only system (merged /usr as symlinks), proc,
// dev and a tmpfs /tmp: a sandbox comparable to isol8's, without cgroups and seccomp.
std::vector<std::string> bwrap_argv(const std::vector<std::string>& program) {
  std::vector<std::string> argv = {"/usr/bin/bwrap", "--unshare-all", "--die-with-parent",
                                   "--ro-bind",      "/usr",          "/usr"};
  for (const char* dir : {"/bin", "/sbin", "/lib", "/lib64"}) {
    if (is_symlink(dir)) {
      std::error_code ec;
      const auto target = std::filesystem::read_symlink(dir, ec);
      if (!ec) argv.insert(argv.end(), {"--symlink", target.string(), dir});
    } else if (::access(dir, F_OK) == 0) {
      argv.insert(argv.end(), {"--ro-bind", dir, dir});
    }
  }
  argv.insert(argv.end(), {"--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp"});
  argv.insert(argv.end(), program.begin(), program.end());
  return argv;
}

// A directory whose isol8.config.json forces the filtered mode through the relay.
std::string relay_config_dir() {
  const std::string dir = "/tmp/isol8-bench-relay-" + std::to_string(::getpid());
  std::filesystem::create_directories(dir);
  std::ofstream(dir + "/isol8.config.json") << "{\"native\": {\"filteredMode\": \"relay\"}}\n";
  return dir;
}

}  // namespace

int main(int argc, char** argv) {
  const Options opt = parse_args(argc, argv);
  if (::access(opt.isol8.c_str(), X_OK) != 0) die("cannot execute " + opt.isol8);
  const bool have_bwrap = ::access("/usr/bin/bwrap", X_OK) == 0;
  const bool have_unshare = ::access("/usr/bin/unshare", X_OK) == 0;
  if (!have_bwrap) std::fprintf(stderr, "isol8_bench: no /usr/bin/bwrap: its rows are left out\n");

  const std::vector<std::string> bash = {"/bin/bash", "-c", "true"};
  const std::vector<std::string> python = {"/usr/bin/python3", "-c", "pass"};
  std::vector<Group> all;
  Group bash_group{"bash", {{"bare", bash, ""}}};
  if (have_unshare) {
    std::vector<std::string> u = {"/usr/bin/unshare", "-Urmuinpf", "--cgroup"};
    u.insert(u.end(), bash.begin(), bash.end());
    bash_group.commands.push_back({"unshare", u, ""});
  }
  if (have_bwrap) bash_group.commands.push_back({"bwrap", bwrap_argv(bash), ""});
  bash_group.commands.push_back({"isol8", {opt.isol8, "run", "-r", "bash", "-e", "true"}, ""});
  all.push_back(bash_group);
  Group python_group{"python", {{"bare", python, ""}}};
  if (have_bwrap) python_group.commands.push_back({"bwrap", bwrap_argv(python), ""});
  python_group.commands.push_back({"isol8", {opt.isol8, "run", "-e", "pass"}, ""});
  all.push_back(python_group);
  const std::vector<std::string> filtered = {"--net", "filtered", "--allow", "example\\.com"};
  std::vector<std::string> net_filtered = {opt.isol8, "run", "-r", "bash", "-e", "true"};
  net_filtered.insert(net_filtered.begin() + 2, filtered.begin(), filtered.end());
  const bool want_net = std::find(opt.groups.begin(), opt.groups.end(), "net") != opt.groups.end();
  std::string relay_dir;
  if (want_net) {
    relay_dir = relay_config_dir();
    all.push_back(Group{"net",
                        {{"none", {opt.isol8, "run", "-r", "bash", "-e", "true"}, ""},
                         {"filtered", net_filtered, ""},
                         {"filtered-relay", net_filtered, relay_dir}}});
  }

  const std::string load_before = read_loadavg();
  std::vector<GroupResult> results;
  for (const auto& group : all) {
    const bool chosen = opt.groups.empty() ? group.name != "net"
                                           : std::find(opt.groups.begin(), opt.groups.end(),
                                                       group.name) != opt.groups.end();
    if (!chosen) continue;
    if (!opt.json) std::fprintf(stderr, "isol8_bench: measuring %s...\n", group.name.c_str());
    results.push_back(run_group(group, opt));
  }
  const std::string load_after = read_loadavg();
  if (!relay_dir.empty()) std::filesystem::remove_all(relay_dir);

  if (opt.json) {
    print_json(results, opt, load_before, load_after);
  } else {
    print_table(results, opt, load_before, load_after);
  }
  return 0;
}
