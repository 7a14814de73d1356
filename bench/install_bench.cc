// install_bench: what a cold run-time package install adds to a run, per runtime. For each of
// python, node, bun, deno and bash it times `isol8 run -r <rt> --install <pkg> -e <code that uses
// it>` and, as the baseline, the same run without --install (the same runtime, root and network:
// `--net filtered --allow <registry>` on both, the code printing a line without the package),
// alternately (baseline, install, baseline, install ...) so that drift on the machine affects
// both alike, and reports p50 and min of each and the install's added time (install minus
// baseline). Every run is a new sandbox, so every install is cold: nothing is cached between
// runs (pip --no-cache-dir, npm, bun and deno caches and apt's lists all live in the sandbox).
// A measurement, never a pass/fail test; a run that fails or does not print what the package
// says ends that runtime's measurement with the CLI's output.
//
// The packages come from local registries (tests/support/package_registries.h, as the install
// tests'): a PyPI index, an npm registry and a Debian repository served in a network namespace of
// their own on 198.51.100.0/24; the CLI resolves their names through a hosts file bind-mounted in
// a mount namespace of its own (both variants run under it) and reaches them through the
// filtered network's proxy. Nothing leaves the machine. Needs root (the veth, the mount
// namespace); as another user it says so and exits 0.
//
//   install_bench [--runs N] [--warmup N] [--runtime NAME]... [--backend native|docker]...
//
// Backends: native, and docker when a daemon answers at DOCKER_HOST with the isol8:<runtime>
// images (`isol8 setup --backend docker`). The runtime roots come from the rootfs store
// (ISOL8_ROOTFS_STORE, default /var/lib/isol8/rootfs): bash installs need one, and bun and deno
// are not on the host.

#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <string>
#include <vector>

#include "backends/docker/client.h"
#include "support/cli.h"
#include "support/files.h"
#include "support/package_registries.h"

namespace isol8::test {
namespace {

// TEST-NET-2, so that the network tier's registries (203.0.113.0/24) can run at the same time.
constexpr const char* kBenchSubnet = "198.51.100";

struct Case {
  const char* runtime;
  std::string package;
  const char* code;      // uses the package
  const char* baseline;  // the same runtime, without the package: prints "hello <runtime>"
  const char* expect;    // what `code` prints
  const char* allow;     // the registry's host pattern, for --net filtered
};

std::vector<Case> cases() {
  return {
      {"python", kWheelPackage, "import isol8_test_pkg; print(isol8_test_pkg.greet('python'))",
       "print('hello python')", "hello python from the wheel", "^pypi\\.test$"},
      {"node", kNpmPackage, "console.log(require('isol8-test-dep').greet('node'))",
       "console.log('hello node')", "hello node from the tarball", "^registry\\.test$"},
      {"bun", kNpmPackage, "console.log(require('isol8-test-dep').greet('bun'))",
       "console.log('hello bun')", "hello bun from the tarball", "^registry\\.test$"},
      {"deno", std::string("npm:") + kNpmPackage,
       "import m from 'npm:isol8-test-dep'; console.log(m.greet('deno'))",
       "console.log('hello deno')", "hello deno from the tarball", "^registry\\.test$"},
      {"bash", kDebianPackage, "isol8-greet", "echo hello bash", "hello from the library of a deb",
       "^debian\\.test$"},
  };
}

double percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  const size_t i = std::min(v.size() - 1, static_cast<size_t>(p * (v.size() - 1) + 0.5));
  return v[i];
}

double minimum(const std::vector<double>& v) { return *std::min_element(v.begin(), v.end()); }

std::string load_average() {
  std::ifstream in("/proc/loadavg");
  std::string one, five, fifteen;
  in >> one >> five >> fifteen;
  return one + " " + five + " " + fifteen;
}

std::string last_line(const std::string& text) {
  const std::string trimmed = rtrim(text);
  const size_t nl = trimmed.rfind('\n');
  return nl == std::string::npos ? trimmed : trimmed.substr(nl + 1);
}

// "" when the docker backend can be measured for `runtimes`, else why not.
std::string docker_unavailable(const std::vector<Case>& runtimes) {
  const char* host = std::getenv("DOCKER_HOST");
  if (host == nullptr || *host == '\0') return "DOCKER_HOST is not set";
  auto client = docker::DockerClient::from_environment();
  if (!client) return client.error().message;
  if (auto p = (*client)->ping(); !p) return "no daemon at " + std::string(host);
  for (const Case& c : runtimes) {
    const std::string image = std::string("isol8:") + c.runtime;
    auto i = (*client)->inspect_image(image);
    if (!i || !i->has_value()) return image + " is missing (isol8 setup --backend docker)";
  }
  return "";
}

struct Measured {
  std::string backend;
  std::string runtime;
  std::string package;
  std::vector<double> baseline_ms;
  std::vector<double> install_ms;
  std::string failure;  // why the measurement stopped, "" when it did not
};

class Bench {
 public:
  Bench(const PackageRegistries& registries, const TempDir& dir)
      : registries_(registries), dir_(dir) {}

  Measured measure(const std::string& backend, const Case& c, int runs, int warmup) const {
    Measured m{backend, c.runtime, c.package, {}, {}, ""};
    for (int i = 0; i < warmup + runs && m.failure.empty(); ++i) {
      for (const bool install : {false, true}) {
        const CliRun r = run(backend, c, install);
        const std::string expected = install ? c.expect : std::string("hello ") + c.runtime;
        if (r.exit_code != 0 || !contains(r.out, expected)) {
          m.failure = std::string(install ? "with" : "without") + " --install: exit " +
                      std::to_string(r.exit_code) + ": " + last_line(r.err.empty() ? r.out : r.err);
          std::fprintf(stderr, "install_bench: %s %s failed:\n%s\n", backend.c_str(), c.runtime,
                       describe(r).c_str());
          break;
        }
        if (i >= warmup) (install ? m.install_ms : m.baseline_ms).push_back(r.wall_ms);
      }
    }
    return m;
  }

 private:
  CliRun run(const std::string& backend, const Case& c, bool install) const {
    std::vector<std::string> args = {"run",   "--backend", backend,   "-r",   c.runtime,
                                     "--net", "filtered",  "--allow", c.allow};
    if (install) args.insert(args.end(), {"--install", c.package});
    args.insert(args.end(), {"-e", install ? c.code : c.baseline});
    CliOptions o;
    o.cwd = dir_.path();
    o.env["HOME"] = dir_.path();
    o.env["TMPDIR"] = dir_.file("tmp");
    o.env["ISOL8_RELAY"] = kRelayBinary;
    o.env.merge(registries_.mirror_env());
    o.launcher = registries_.hosts_launcher();
    return run_cli_with(args, std::move(o));
  }

  const PackageRegistries& registries_;
  const TempDir& dir_;
};

void print_table(const std::vector<Measured>& rows) {
  std::printf(
      "\n| backend | runtime | package | without `--install` p50 / min | with `--install` p50 / "
      "min | the install adds p50 / min | ratio p50 |\n|---|---|---|---|---|---|---|\n");
  for (const Measured& m : rows) {
    if (!m.failure.empty()) {
      std::printf("| %s | %s | `%s` | failed: %s | | | |\n", m.backend.c_str(), m.runtime.c_str(),
                  m.package.c_str(), m.failure.c_str());
      continue;
    }
    const double b50 = percentile(m.baseline_ms, 0.5), bmin = minimum(m.baseline_ms);
    const double i50 = percentile(m.install_ms, 0.5), imin = minimum(m.install_ms);
    std::printf("| %s | %s | `%s` | %.0f / %.0f ms | %.0f / %.0f ms | %+.0f / %+.0f ms | %.2fx |\n",
                m.backend.c_str(), m.runtime.c_str(), m.package.c_str(), b50, bmin, i50, imin,
                i50 - b50, imin - bmin, i50 / b50);
  }
}

int main_impl(int argc, char** argv) {
  int runs = 5;
  int warmup = 1;
  std::vector<std::string> only_runtimes;
  std::vector<std::string> backends;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--runs") == 0) {
      runs = std::atoi(argv[i + 1]);
    } else if (std::strcmp(argv[i], "--warmup") == 0) {
      warmup = std::atoi(argv[i + 1]);
    } else if (std::strcmp(argv[i], "--runtime") == 0) {
      only_runtimes.push_back(argv[i + 1]);
    } else if (std::strcmp(argv[i], "--backend") == 0) {
      backends.push_back(argv[i + 1]);
    } else {
      std::fprintf(stderr, "install_bench: unknown option %s\n", argv[i]);
      return 2;
    }
  }
  if (argc % 2 == 0 || runs < 1 || warmup < 0) {
    std::fprintf(stderr,
                 "usage: install_bench [--runs N (>= 1)] [--warmup N (>= 0)] [--runtime NAME]... "
                 "[--backend native|docker]...\n");
    return 2;
  }
  if (::geteuid() != 0) {
    std::printf(
        "install_bench: not measured: needs root (the registries' network namespace is joined "
        "by a veth, and the CLI runs with a hosts file bind-mounted in a mount namespace)\n");
    return 0;
  }
  std::vector<Case> selected;
  for (const Case& c : cases()) {
    if (only_runtimes.empty() ||
        std::find(only_runtimes.begin(), only_runtimes.end(), c.runtime) != only_runtimes.end()) {
      selected.push_back(c);
    }
  }
  if (backends.empty()) {
    backends.push_back("native");
    if (const std::string why = docker_unavailable(selected); why.empty()) {
      backends.push_back("docker");
    } else {
      std::fprintf(stderr, "install_bench: docker backend not measured: %s\n", why.c_str());
    }
  }

  TempDir dir("isol8-install-bench");
  ::mkdir(dir.file("tmp").c_str(), 0700);
  auto registries = PackageRegistries::start(dir.path(), kBenchSubnet);
  if (!registries) {
    std::fprintf(stderr, "install_bench: could not serve the registries: %s\n",
                 registries.error().message.c_str());
    return 1;
  }
  if (!(*registries)->has_npm()) {
    std::fprintf(stderr, "install_bench: no /usr/bin/npm to pack the npm package\n");
    return 1;
  }
  const Bench bench(**registries, dir);

  utsname uts{};
  ::uname(&uts);
  char date[32];
  const std::time_t now = std::time(nullptr);
  std::strftime(date, sizeof date, "%Y-%m-%d %H:%M UTC", std::gmtime(&now));
  const char* store = std::getenv("ISOL8_ROOTFS_STORE");
  const std::string load_before = load_average();
  std::printf(
      "install_bench: %s, %ld CPUs, %s %s, %s; %d runs of each after %d warm-up(s), "
      "alternately; rootfs store %s\n",
      date, ::sysconf(_SC_NPROCESSORS_ONLN), uts.sysname, uts.release, kIsol8Binary, runs, warmup,
      store != nullptr ? store : "/var/lib/isol8/rootfs (default)");
  std::fflush(stdout);

  std::vector<Measured> rows;
  for (const std::string& backend : backends) {
    for (const Case& c : selected) {
      std::fprintf(stderr, "install_bench: %s %s ...\n", backend.c_str(), c.runtime);
      rows.push_back(bench.measure(backend, c, runs, warmup));
    }
  }
  print_table(rows);
  std::printf(
      "\nwall time of the CLI (spawn to exit, under the hosts file's mount namespace); "
      "load average before %s, after %s\n",
      load_before.c_str(), load_average().c_str());
  return 0;
}

}  // namespace
}  // namespace isol8::test

int main(int argc, char** argv) { return isol8::test::main_impl(argc, argv); }
