// Run-time package installs (--install) end to end on every backend under test (the native one
// in the network tier, docker in the docker tier), against real package
// registries served inside a test "internet" (a network namespace of this test's own at
// 203.0.113.2, reached through a veth): a PyPI "simple" index holding a wheel the test builds,
// and an npm registry holding a packument and a tarball made with `npm pack`. pip and npm reach
// them through the filtered network's proxy (the CLI resolves the test names through a hosts
// file bind-mounted in a mount namespace), pointed there by PIP_INDEX_URL / npm_config_registry.
// Nothing leaves the machine.

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "isol8/engine.h"
#include "network_fixture.h"
#include "support/test_support.h"

namespace isol8::test {
namespace {

namespace fs = std::filesystem;

constexpr const char* kWheelPackage = "isol8-test-pkg";
constexpr const char* kNpmPackage = "isol8-test-dep";
constexpr const char* kRegistryAddress = "203.0.113.2";

constexpr const char* kHosts =
    "127.0.0.1 localhost\n"
    "203.0.113.2 pypi.test registry.test other.test debian.test\n";
constexpr const char* kAptSources = "deb [trusted=yes] http://debian.test/debian ./";

// A flat Debian repository under $1/debian, indexed with dpkg-scanpackages: libisol8greet1 (a
// shared library in the multiarch directory), isol8-greet (a program linked against it, which
// depends on it and on a "bash" newer than any root's) and that bash (which an install must not
// unpack over the root's: it would shadow the real one).
constexpr const char* kMakeDebianRepo = R"SH(set -e
out=$1/debian; work=$2
arch=$(dpkg --print-architecture); ma=$(gcc -print-multiarch)
mkdir -p "$out" "$work/lib/DEBIAN" "$work/lib/usr/lib/$ma" "$work/greet/DEBIAN" \
  "$work/greet/usr/bin" "$work/bash/DEBIAN" "$work/bash/usr/bin"
printf 'const char *isol8_greet(void) { return "hello from the library of a deb"; }\n' > "$work/greet.c"
printf '#include <stdio.h>\nconst char *isol8_greet(void);\nint main(void) { puts(isol8_greet()); return 0; }\n' > "$work/main.c"
cc -shared -fPIC -Wl,-soname,libisol8greet.so.1 -o "$work/lib/usr/lib/$ma/libisol8greet.so.1" "$work/greet.c"
cc -o "$work/greet/usr/bin/isol8-greet" "$work/main.c" "$work/lib/usr/lib/$ma/libisol8greet.so.1"
printf '#!/bin/sh\necho fake bash\n' > "$work/bash/usr/bin/bash"; chmod 755 "$work/bash/usr/bin/bash"
control() { printf 'Package: %s\nVersion: %s\nArchitecture: %s\nMaintainer: isol8 tests <tests@isol8.invalid>\nDescription: isol8 test package\n%s' "$1" "$2" "$arch" "$3"; }
control libisol8greet1 1.0 "" > "$work/lib/DEBIAN/control"
control isol8-greet 1.0 'Depends: libisol8greet1, bash (>= 99)
' > "$work/greet/DEBIAN/control"
control bash 99.0 "" > "$work/bash/DEBIAN/control"
for p in lib greet bash; do dpkg-deb --build --root-owner-group "$work/$p" "$out" >/dev/null; done
cd "$out" && dpkg-scanpackages -m . 2>/dev/null > Packages
echo ok
)SH";

// Builds a pure-Python wheel of isol8_test_pkg (a zip with dist-info; no pip, no network).
constexpr const char* kMakeWheel = R"PY(
import base64, hashlib, os, sys, zipfile
root = sys.argv[1]
name, ver = 'isol8_test_pkg', '1.0.0'
files = {
    name + '/__init__.py': b"def greet(who):\n    return 'hello ' + who + ' from the wheel'\n",
    name + '-' + ver + '.dist-info/METADATA':
        ('Metadata-Version: 2.1\nName: isol8-test-pkg\nVersion: ' + ver + '\n').encode(),
    name + '-' + ver + '.dist-info/WHEEL':
        b'Wheel-Version: 1.0\nGenerator: isol8-test\nRoot-Is-Purelib: true\nTag: py3-none-any\n',
}
record = []
for path, data in files.items():
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b'=').decode()
    record.append('%s,sha256=%s,%d' % (path, digest, len(data)))
record.append(name + '-' + ver + '.dist-info/RECORD,,')
files[name + '-' + ver + '.dist-info/RECORD'] = ('\n'.join(record) + '\n').encode()
wheel = name + '-' + ver + '-py3-none-any.whl'
os.makedirs(os.path.join(root, 'packages'), exist_ok=True)
os.makedirs(os.path.join(root, 'simple', 'isol8-test-pkg'), exist_ok=True)
with zipfile.ZipFile(os.path.join(root, 'packages', wheel), 'w') as z:
    for path, data in files.items():
        z.writestr(path, data)
with open(os.path.join(root, 'simple', 'isol8-test-pkg', 'index.html'), 'w') as f:
    f.write('<html><body><a href="../../packages/%s">%s</a></body></html>\n' % (wheel, wheel))
print('ok')
)PY";

// Serves the directory argv[1] on 203.0.113.2:80 (once the address exists), logging each path
// asked for to argv[2]; any path with "slow" in it hangs (for the install time limit).
constexpr const char* kServer = R"PY(
import http.server, os, socket, sys, time
root, log = sys.argv[1], sys.argv[2]
class H(http.server.SimpleHTTPRequestHandler):
    def __init__(self, *a, **k):
        super().__init__(*a, directory=root, **k)
    def do_GET(self):
        with open(log, 'a') as f:
            f.write(self.path + '\n')
        if 'slow' in self.path:
            time.sleep(60)
        super().do_GET()
    def log_message(self, *a): pass
while True:
    try:
        s = http.server.ThreadingHTTPServer(('203.0.113.2', 80), H); break
    except OSError: time.sleep(0.02)
s.serve_forever()
)PY";

// The registries' namespace: a python HTTP server in a network namespace of its own, joined to
// the host by a veth (203.0.113.1 on the host side), as TestInternet does.
class RegistryInternet {
 public:
  RegistryInternet(const std::string& root, const std::string& log) {
    host_if_ = "i8r" + std::to_string(::getpid());
    server_ = ::fork();
    if (server_ == 0) {
      ::execl("/usr/bin/unshare", "unshare", "--net", "--", "/usr/bin/python3", "-c", kServer,
              root.c_str(), log.c_str(), nullptr);
      ::_exit(127);
    }
    if (server_ < 0) return;
    const std::string own = fs::read_symlink("/proc/self/ns/net").string();
    const std::string theirs = "/proc/" + std::to_string(server_) + "/ns/net";
    bool unshared = false;
    for (int i = 0; i < 400 && !unshared; ++i) {
      std::error_code ec;
      const auto ns = fs::read_symlink(theirs, ec);
      unshared = !ec && ns.string() != own &&
                 contains(slurp("/proc/" + std::to_string(server_) + "/cmdline"), "python3");
      if (!unshared) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    if (!unshared) return;
    const std::string pid = std::to_string(server_);
    const std::string in = "nsenter -t " + pid + " -n ip ";
    const std::string script = "set -e; ip link add " + host_if_ +
                               " type veth peer name inet0 netns " + pid +
                               "; ip addr add 203.0.113.1/24 dev " + host_if_ + "; ip link set " +
                               host_if_ + " up; " + in + "addr add 203.0.113.2/24 dev inet0; " +
                               in + "link set inet0 up; " + in + "link set lo up";
    if (sh(script) != 0) return;
    for (int i = 0; i < 400 && !tcp_connects(kRegistryAddress, 80); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(25));
    }
    ok_ = tcp_connects(kRegistryAddress, 80);
  }
  ~RegistryInternet() {
    if (server_ > 0) {
      ::kill(server_, SIGKILL);
      ::waitpid(server_, nullptr, 0);
    }
    sh("ip link del " + host_if_ + " 2>/dev/null");
  }
  RegistryInternet(const RegistryInternet&) = delete;
  RegistryInternet& operator=(const RegistryInternet&) = delete;
  bool ok() const { return ok_; }

 private:
  std::string host_if_;
  pid_t server_ = -1;
  bool ok_ = false;
};

class Installs : public ::testing::TestWithParam<BackendKind> {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) {
      GTEST_SKIP() << "the test internet (a veth, a hosts file bind-mounted in a mount "
                      "namespace) needs root; scripts/test runs this tier as root";
    }
    if (docker()) {
      if (const auto why = docker_unavailable_reason(); !why.empty()) {
        GTEST_SKIP() << "docker backend unavailable: " << why;
      }
      containers_before_ = isol8_container_count();
    } else if (const auto why = sandbox_unavailable_reason(); !why.empty()) {
      GTEST_SKIP() << why;
    }
    if (sh("/usr/bin/python3 -m pip --version >/dev/null 2>&1") != 0) {
      GTEST_SKIP() << "pip is not installed on the host (scripts/deps installs python3-pip)";
    }
    has_npm_ = ::access("/usr/bin/npm", X_OK) == 0;
    root_ = dir_.file("registry");
    fs::create_directories(root_ + "/tarballs");
    log_ = dir_.file("requests.log");
    spit(log_, "");
    spit(dir_.file("make_wheel.py"), kMakeWheel);
    ASSERT_EQ(sh_out("/usr/bin/python3 '" + dir_.file("make_wheel.py") + "' '" + root_ + "'"),
              "ok\n");
    if (has_npm_) make_npm_package();
    spit(dir_.file("make_debian_repo.sh"), kMakeDebianRepo);
    ASSERT_EQ(sh_out("/bin/sh '" + dir_.file("make_debian_repo.sh") + "' '" + root_ + "' '" +
                     dir_.file("debian-src") + "'"),
              "ok\n")
        << "building the Debian repository (dpkg-deb, dpkg-scanpackages from dpkg-dev, cc)";
    spit(dir_.file("hosts"), kHosts);
    ::mkdir(dir_.file("tmp").c_str(), 0700);
    internet_ = std::make_unique<RegistryInternet>(root_, log_);
    ASSERT_TRUE(internet_->ok()) << "could not build the registries' namespace";
  }

  void TearDown() override {
    if (IsSkipped()) return;
    internet_.reset();
    const auto left = network_leftovers_settled();
    EXPECT_TRUE(left.empty()) << ::testing::PrintToString(left);
    if (docker()) {
      EXPECT_EQ(isol8_container_count(), containers_before_) << "isol8 containers left behind";
    }
  }

  bool docker() const { return GetParam() == BackendKind::kDocker; }

  // A package made with `npm pack`, its packument at /<name> and its tarball under /tarballs.
  void make_npm_package() {
    const std::string pkg = dir_.file("npm-src");
    fs::create_directories(pkg);
    spit(pkg + "/package.json", std::string("{\"name\": \"") + kNpmPackage +
                                    "\", \"version\": \"1.0.0\", \"main\": \"index.js\"}\n");
    spit(pkg + "/index.js", "exports.greet = (who) => 'hello ' + who + ' from the tarball';\n");
    const std::string packed = sh_out("cd '" + pkg + "' && npm pack --json --pack-destination '" +
                                      root_ + "/tarballs' 2>/dev/null");
    const auto info = nlohmann::json::parse(packed, nullptr, false);
    ASSERT_TRUE(info.is_array() && info.size() == 1) << "npm pack printed: " << packed;
    const std::string tgz = info[0]["filename"].get<std::string>();
    nlohmann::json version = {{"name", kNpmPackage},
                              {"version", "1.0.0"},
                              {"main", "index.js"},
                              {"dist",
                               {{"tarball", "http://registry.test/tarballs/" + tgz},
                                {"shasum", info[0]["shasum"]},
                                {"integrity", info[0]["integrity"]}}}};
    nlohmann::json packument = {{"name", kNpmPackage},
                                {"dist-tags", {{"latest", "1.0.0"}}},
                                {"versions", {{"1.0.0", version}}}};
    spit(root_ + "/" + kNpmPackage, packument.dump());
  }

  // The CLI in a mount namespace whose /etc/hosts names the registries, with the mirrors set.
  CliOptions options() const {
    CliOptions o;
    o.cwd = dir_.path();
    o.env["HOME"] = dir_.path();
    o.env["TMPDIR"] = dir_.file("tmp");
    o.env["ISOL8_RELAY"] = kRelayBinary;
    o.env["PIP_INDEX_URL"] = "http://pypi.test/simple/";
    o.env["PIP_TRUSTED_HOST"] = "pypi.test";
    o.env["PIP_EXTRA_INDEX_URL"] = std::nullopt;
    o.env["npm_config_registry"] = "http://registry.test/";
    o.env["NPM_CONFIG_REGISTRY"] = std::nullopt;
    o.env["ISOL8_INSTALL_HOSTS"] = std::nullopt;
    o.launcher = {"/usr/bin/unshare",
                  "-m",
                  "--propagation",
                  "private",
                  "/bin/sh",
                  "-c",
                  "mount --bind \"$0\" /etc/hosts && exec \"$@\"",
                  dir_.file("hosts")};
    return o;
  }

  CliRun cli(std::vector<std::string> args, CliOptions o) const {
    const auto flags = backend_cli_flags(GetParam());
    args.insert(args.begin(), flags.begin(), flags.end());
    args.insert(args.begin(), "run");
    return run_cli_with(args, std::move(o));
  }
  CliRun cli(std::vector<std::string> args) const { return cli(std::move(args), options()); }

  std::string requests() const { return slurp(log_); }

  TempDir dir_;
  std::string root_;
  std::string log_;
  std::unique_ptr<RegistryInternet> internet_;
  bool has_npm_ = false;
  long containers_before_ = 0;
};

// Bash installs need a runtime root with a package database: the native backend's store (built
// by `isol8 setup` before this tier), or the docker image made from it.
#define ISOL8_REQUIRE_BASH_ROOT()                                                            \
  if (!docker() && std::getenv("ISOL8_TEST_ROOTFS_STORE") == nullptr)                        \
  GTEST_SKIP() << "ISOL8_TEST_ROOTFS_STORE is not set: bash installs need the roots `isol8 " \
                  "setup` builds (scripts/test builds them before this tier)"

#define ISOL8_REQUIRE_NPM() \
  if (!has_npm_) GTEST_SKIP() << "npm is not installed on the host (/usr/bin/npm, with node)"

TEST_P(Installs, PythonPackageFromTheIndexImports) {
  const CliRun r = cli({"--install", kWheelPackage, "-e",
                        "import isol8_test_pkg; print(isol8_test_pkg.greet('python'))"});
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_TRUE(contains(r.out, "hello python from the wheel")) << describe(r);
  // pip's own output is the setup phase's, streamed before the program's.
  EXPECT_TRUE(contains(r.out, "Successfully installed isol8-test-pkg-1.0.0")) << describe(r);
  EXPECT_LT(r.out.find("Successfully installed"), r.out.find("hello python")) << describe(r);
  EXPECT_TRUE(contains(requests(), "/simple/isol8-test-pkg/")) << requests();
  EXPECT_TRUE(contains(requests(), "/packages/isol8_test_pkg-1.0.0-py3-none-any.whl"))
      << requests();
}

TEST_P(Installs, NodePackageFromTheRegistryRequires) {
  ISOL8_REQUIRE_NPM();
  const CliRun r = cli({"-r", "node", "--install", kNpmPackage, "-e",
                        "console.log(require('isol8-test-dep').greet('node'))"});
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_TRUE(contains(r.out, "hello node from the tarball")) << describe(r);
  EXPECT_TRUE(contains(requests(), std::string("/") + kNpmPackage)) << requests();
}

TEST_P(Installs, InstallThenSetupScriptThenCodeInThatOrder) {
  const CliRun r = cli({"--install", kWheelPackage, "--setup",
                        "python3 -c 'import isol8_test_pkg; print(\"setup sees\", "
                        "isol8_test_pkg.greet(\"setup\"))'",
                        "-e", "print('code runs')"});
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  const auto installed = r.out.find("Successfully installed");
  const auto setup = r.out.find("setup sees hello setup from the wheel");
  const auto code = r.out.find("code runs");
  ASSERT_NE(installed, std::string::npos) << describe(r);
  ASSERT_NE(setup, std::string::npos) << describe(r);
  ASSERT_NE(code, std::string::npos) << describe(r);
  EXPECT_LT(installed, setup);
  EXPECT_LT(setup, code);
}

TEST_P(Installs, AMissingPackageFailsWithTheInstallMessage) {
  const CliRun r = cli({"--install", "isol8-no-such-package", "-e", "print('never')"});
  EXPECT_EQ(r.exit_code, 1) << describe(r);
  EXPECT_TRUE(contains(r.err, "[ERR] Package install failed (exit code 1): ")) << describe(r);
  EXPECT_TRUE(contains(r.err, "No matching distribution found for isol8-no-such-package"))
      << describe(r);
  EXPECT_FALSE(contains(r.out, "never")) << describe(r);

  // The same through --json: the error object, exit 1.
  ISOL8_REQUIRE_NPM();
  const CliRun j = cli({"--json", "-r", "node", "--install", "isol8-no-such-dep", "-e", "1"});
  EXPECT_EQ(j.exit_code, 1) << describe(j);
  const auto parsed = nlohmann::json::parse(j.out, nullptr, false);
  ASSERT_TRUE(parsed.is_object()) << describe(j);
  EXPECT_TRUE(
      parsed.value("error", std::string()).starts_with("Package install failed (exit code "))
      << describe(j);
}

TEST_P(Installs, BadNamesAreRefusedBeforeAnythingRuns) {
  for (const std::string& bad :
       std::vector<std::string>{"x;touch /tmp/pwned", "$(id)", "--index-url=http://other.test/",
                                "six @ http://other.test/x.whl", "-r/etc/passwd"}) {
    const CliRun r = cli({"--install", bad, "-e", "print('never')"});
    EXPECT_EQ(r.exit_code, 1) << describe(r);
    EXPECT_TRUE(contains(r.err, "[ERR] Invalid package name for python: \"" + bad + "\""))
        << describe(r);
    EXPECT_FALSE(contains(r.out, "never")) << describe(r);
  }
  const CliRun n = cli({"-r", "node", "--install", "a;b", "-e", "1"});
  EXPECT_TRUE(contains(n.err, "[ERR] Invalid package name for node: \"a;b\"")) << describe(n);
  EXPECT_EQ(requests(), "") << "a refused install reached the registry";
}

TEST_P(Installs, NetNoneIsRefusedWithTheReason) {
  for (const std::vector<std::string>& net :
       {std::vector<std::string>{"--net", "none"}, std::vector<std::string>{"--net=none"}}) {
    std::vector<std::string> args = net;
    args.insert(args.end(), {"--install", kWheelPackage, "-e", "print('never')"});
    const CliRun r = cli(args);
    EXPECT_EQ(r.exit_code, 1) << describe(r);
    EXPECT_TRUE(contains(r.err,
                         "Package installs need the network to reach the package "
                         "registry, but the network mode is \"none\""))
        << describe(r);
  }
  EXPECT_EQ(requests(), "");
}

TEST_P(Installs, AnInstallCannotReachAHostOutsideTheRegistryList) {
  // The allowed registry is registry.test only: the index on pypi.test is refused by the proxy.
  CliOptions o = options();
  o.env["ISOL8_INSTALL_HOSTS"] = "^registry\\.test$";
  const CliRun r = cli({"--install", kWheelPackage, "-e", "print('never')"}, o);
  EXPECT_EQ(r.exit_code, 1) << describe(r);
  EXPECT_TRUE(contains(r.err, "[ERR] Package install failed (exit code 1)")) << describe(r);
  EXPECT_FALSE(contains(requests(), "/simple/")) << requests();
}

TEST_P(Installs, TheInstallHasItsOwnTimeLimit) {
  const CliRun r =
      cli({"--timeout", "2000", "--install", "isol8-slow-package", "-e", "print('never')"});
  EXPECT_EQ(r.exit_code, 1) << describe(r);
  EXPECT_TRUE(
      contains(r.err, "[ERR] Package install failed (exit code 137): timed out after 2000 ms"))
      << describe(r);
  EXPECT_TRUE(contains(requests(), "slow")) << requests();
}

// The library's stream: the install's output comes with phase "setup", the program's with
// "code". Host network here (the library caller has no hosts file), the index by address.
TEST_P(Installs, StreamedInstallOutputHasPhaseSetup) {
  Options options = backend_options(GetParam(), Options{}.native.id_map_base);
  options.network = NetworkMode::kHost;
  options.timeout_ms = 60000;
  auto engine = Engine::create(options);
  ASSERT_TRUE(engine) << engine.error().message;
  ExecutionRequest request;
  request.runtime = "python";
  request.code = "import isol8_test_pkg; print(isol8_test_pkg.greet('stream'))";
  request.install_packages = {kWheelPackage};
  // The mirror variables are read from the caller's environment when the run is prepared.
  ::setenv("PIP_INDEX_URL", "http://203.0.113.2/simple/", 1);
  ::setenv("PIP_TRUSTED_HOST", "203.0.113.2", 1);
  std::vector<StreamEvent> events;
  auto result = (*engine)->execute_stream(
      request, [&](const StreamEvent& e) { events.push_back(e); }, RunControl{});
  ::unsetenv("PIP_INDEX_URL");
  ::unsetenv("PIP_TRUSTED_HOST");
  ASSERT_TRUE(result) << result.error().message;
  std::string setup_out, code_out;
  for (const auto& e : events) {
    if (e.type != StreamEvent::Type::kStdout) continue;
    (e.phase == "setup" ? setup_out : code_out) += e.data;
  }
  EXPECT_TRUE(contains(setup_out, "Successfully installed isol8-test-pkg-1.0.0")) << setup_out;
  EXPECT_FALSE(contains(setup_out, "hello stream")) << setup_out;
  EXPECT_TRUE(contains(code_out, "hello stream from the wheel")) << code_out;
  EXPECT_FALSE(contains(code_out, "Successfully installed")) << code_out;
  EXPECT_EQ(result->exit_code, 0);
}

// Options for a bash install against the test's Debian repository, in the store's roots.
CliOptions debian_options(CliOptions o) {
  o.env["ISOL8_APT_SOURCES"] = kAptSources;
  if (const char* store = std::getenv("ISOL8_TEST_ROOTFS_STORE")) {
    o.env["ISOL8_ROOTFS_STORE"] = store;
  }
  return o;
}

TEST_P(Installs, DebianPackagesForBashComeWithTheirLibraries) {
  ISOL8_REQUIRE_BASH_ROOT();
  const CliRun r = cli({"-r", "bash", "--install", "isol8-greet", "-e",
                        "isol8-greet; echo \"bash ${BASH_VERSINFO[0]} at $(command -v bash)\""},
                       debian_options(options()));
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_TRUE(contains(r.out, "hello from the library of a deb")) << describe(r);
  // The dependency the root has (bash) keeps the root's version, never the downloaded one.
  EXPECT_TRUE(contains(r.out, "isol8: bash is installed in the root; the root's version is kept"))
      << describe(r);
  EXPECT_TRUE(contains(r.out, "bash 5 at /usr/bin/bash")) << describe(r);
  EXPECT_FALSE(contains(r.out, "fake bash")) << describe(r);
  // The install's output is the setup phase's, before the program's.
  EXPECT_LT(r.out.find("unpacked isol8-greet"), r.out.find("hello from the library"))
      << describe(r);
  EXPECT_TRUE(contains(requests(), "isol8-greet_1.0_")) << requests();
  EXPECT_TRUE(contains(requests(), "libisol8greet1_1.0_")) << requests();
}

TEST_P(Installs, DebianInstallFailuresAndBadNames) {
  ISOL8_REQUIRE_BASH_ROOT();
  const CliRun missing = cli({"-r", "bash", "--install", "isol8-no-such-deb", "-e", "echo never"},
                             debian_options(options()));
  EXPECT_EQ(missing.exit_code, 1) << describe(missing);
  EXPECT_TRUE(contains(missing.err, "[ERR] Package install failed (exit code 100): "))
      << describe(missing);
  EXPECT_TRUE(contains(missing.err, "Unable to locate package isol8-no-such-deb"))
      << describe(missing);
  EXPECT_FALSE(contains(missing.out, "never")) << describe(missing);

  const size_t asked = requests().size();
  for (const std::string& bad :
       std::vector<std::string>{"jq;id", "-o=Dir::Etc=/tmp", "Jq", "a b"}) {
    const CliRun r =
        cli({"-r", "bash", "--install", bad, "-e", "echo never"}, debian_options(options()));
    EXPECT_EQ(r.exit_code, 1) << describe(r);
    EXPECT_TRUE(contains(r.err, "[ERR] Invalid package name for bash: \"" + bad + "\""))
        << describe(r);
  }
  EXPECT_EQ(requests().size(), asked) << "a refused install reached the repository";

  // Without a runtime root (the host's system directories) there is no package database.
  if (!docker()) {
    CliOptions o = debian_options(options());
    o.env["ISOL8_ROOTFS_STORE"] = dir_.file("no-store");
    const CliRun host = cli({"-r", "bash", "--install", "isol8-greet", "-e", "echo never"}, o);
    EXPECT_EQ(host.exit_code, 1) << describe(host);
    EXPECT_TRUE(contains(host.err, "Package installs for bash need a runtime root"))
        << describe(host);
  }
}

// A persistent session: packages installed by one execution are there in the next, which
// installs nothing; a failed install in the session is reported and leaves the session usable.
TEST_P(Installs, PackagesPersistInASession) {
  Options options = backend_options(GetParam(), Options{}.native.id_map_base);
  options.mode = EngineMode::kPersistent;
  options.network = NetworkMode::kHost;
  options.timeout_ms = 60000;
  auto engine = Engine::create(options);
  ASSERT_TRUE(engine) << engine.error().message;
  ::setenv("PIP_INDEX_URL", "http://203.0.113.2/simple/", 1);
  ::setenv("PIP_TRUSTED_HOST", "203.0.113.2", 1);
  ExecutionRequest install;
  install.runtime = "python";
  install.code = "import isol8_test_pkg; print(isol8_test_pkg.greet('step one'))";
  install.install_packages = {kWheelPackage};
  auto first = (*engine)->execute(install);
  ExecutionRequest missing = install;
  missing.install_packages = {"isol8-no-such-package"};
  missing.code = "print('never')";
  auto failed = (*engine)->execute(missing);
  ::unsetenv("PIP_INDEX_URL");
  ::unsetenv("PIP_TRUSTED_HOST");
  ASSERT_TRUE(first) << first.error().message;
  EXPECT_EQ(first->exit_code, 0) << first->stderr_data;
  EXPECT_TRUE(contains(requests(), "/packages/isol8_test_pkg-1.0.0-py3-none-any.whl"))
      << requests();
  EXPECT_TRUE(contains(first->stdout_data, "hello step one from the wheel")) << first->stdout_data;
  ASSERT_FALSE(failed) << "an install of a missing package succeeded: " << failed->stdout_data;
  EXPECT_TRUE(failed.error().message.starts_with("Package install failed (exit code 1)"))
      << failed.error().message;

  const size_t asked = requests().size();
  ExecutionRequest again;
  again.runtime = "python";
  again.code = "import isol8_test_pkg; print(isol8_test_pkg.greet('step three'))";
  auto third = (*engine)->execute(again);
  ASSERT_TRUE(third) << third.error().message;
  EXPECT_EQ(third->exit_code, 0) << third->stderr_data;
  EXPECT_TRUE(contains(third->stdout_data, "hello step three from the wheel"))
      << third->stdout_data;
  EXPECT_EQ(requests().size(), asked) << "the third execution installed again: " << requests();
  (*engine)->stop();
}

INSTANTIATE_TEST_SUITE_P(Backends, Installs, ::testing::ValuesIn(backends_under_test()),
                         BackendParamName());

}  // namespace
}  // namespace isol8::test
