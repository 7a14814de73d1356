#include "support/package_registries.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include <nlohmann/json.hpp>

#include "support/files.h"
#include "support/host_state.h"
#include "support/net.h"

namespace isol8::test {
namespace {

namespace fs = std::filesystem;

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

// Builds a pure-Python wheel of isol8_test_pkg (a zip with dist-info; no pip, no network) and
// its page of the simple index.
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

// Serves the directory argv[1] on argv[3]:80 (once the address exists), logging each path asked
// for to argv[2]; any path with "slow" in it hangs.
constexpr const char* kServer = R"PY(
import http.server, os, socket, sys, time
root, log, address = sys.argv[1], sys.argv[2], sys.argv[3]
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
        s = http.server.ThreadingHTTPServer((address, 80), H); break
    except OSError: time.sleep(0.02)
s.serve_forever()
)PY";

std::string single_quoted(const std::string& s) { return "'" + s + "'"; }

}  // namespace

PackageRegistries::PackageRegistries(std::string dir, std::string subnet)
    : dir_(std::move(dir)),
      subnet_(std::move(subnet)),
      address_(subnet_ + ".2"),
      root_(dir_ + "/registry"),
      log_(dir_ + "/requests.log"),
      host_if_("i8r" + std::to_string(::getpid()) + "s" + subnet_.substr(subnet_.rfind('.') + 1)) {}

Result<std::unique_ptr<PackageRegistries>> PackageRegistries::start(const std::string& dir,
                                                                    const std::string& subnet) {
  std::unique_ptr<PackageRegistries> r(new PackageRegistries(dir, subnet));
  ISOL8_TRY(r->build());
  ISOL8_TRY(r->serve());
  return r;
}

PackageRegistries::~PackageRegistries() {
  if (server_ > 0) {
    ::kill(server_, SIGKILL);
    ::waitpid(server_, nullptr, 0);
  }
  // Gone with the server's namespace; this only covers a failed set-up.
  sh("ip link del " + host_if_ + " 2>/dev/null");
}

Result<void> PackageRegistries::build() {
  std::error_code ec;
  fs::create_directories(root_ + "/tarballs", ec);
  if (ec) return make_error("cannot create " + root_ + ": " + ec.message());
  if (!spit(log_, "")) return make_error("cannot write " + log_);
  const std::string wheel = dir_ + "/make_wheel.py";
  spit(wheel, kMakeWheel);
  if (const auto out =
          sh_out("/usr/bin/python3 " + single_quoted(wheel) + " " + single_quoted(root_));
      out != "ok\n") {
    return make_error("building the wheel printed: " + out);
  }
  const std::string debian = dir_ + "/make_debian_repo.sh";
  spit(debian, kMakeDebianRepo);
  if (const auto out = sh_out("/bin/sh " + single_quoted(debian) + " " + single_quoted(root_) +
                              " " + single_quoted(dir_ + "/debian-src"));
      out != "ok\n") {
    return make_error(
        "building the Debian repository (dpkg-deb, dpkg-scanpackages from dpkg-dev, cc) "
        "printed: " +
        out);
  }
  has_npm_ = ::access("/usr/bin/npm", X_OK) == 0;
  if (has_npm_) ISOL8_TRY(build_npm_package());
  spit(dir_ + "/hosts",
       "127.0.0.1 localhost\n" + address_ + " pypi.test registry.test other.test debian.test\n");
  return ok();
}

// A package made with `npm pack`, its packument at /<name> and its tarball under /tarballs.
Result<void> PackageRegistries::build_npm_package() {
  const std::string pkg = dir_ + "/npm-src";
  std::error_code ec;
  fs::create_directories(pkg, ec);
  spit(pkg + "/package.json", std::string("{\"name\": \"") + kNpmPackage +
                                  "\", \"version\": \"1.0.0\", \"main\": \"index.js\"}\n");
  spit(pkg + "/index.js", "exports.greet = (who) => 'hello ' + who + ' from the tarball';\n");
  const std::string packed =
      sh_out("cd " + single_quoted(pkg) + " && npm pack --json --pack-destination " +
             single_quoted(root_ + "/tarballs") + " 2>/dev/null");
  const auto info = nlohmann::json::parse(packed, nullptr, false);
  if (!info.is_array() || info.size() != 1) return make_error("npm pack printed: " + packed);
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
  return ok();
}

// A python HTTP server in a network namespace of its own (the server process's, not a named
// one: `ip netns add` would change the host's mount table, which the native tier's leak checks
// watch), joined to the host by a veth, as TestInternet does.
Result<void> PackageRegistries::serve() {
  const std::string program = dir_ + "/serve.py";
  spit(program, kServer);
  server_ = ::fork();
  if (server_ == 0) {
    ::execl("/usr/bin/unshare", "unshare", "--net", "--", "/usr/bin/python3", program.c_str(),
            root_.c_str(), log_.c_str(), address_.c_str(), nullptr);
    ::_exit(127);
  }
  if (server_ < 0) return errno_error("fork");
  const std::string own = fs::read_symlink("/proc/self/ns/net").string();
  const std::string pid = std::to_string(server_);
  bool unshared = false;
  for (int i = 0; i < 400 && !unshared; ++i) {
    std::error_code ec;
    const auto ns = fs::read_symlink("/proc/" + pid + "/ns/net", ec);
    unshared = !ec && ns.string() != own && contains(slurp("/proc/" + pid + "/cmdline"), "python3");
    if (!unshared) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  if (!unshared) return make_error("the registries' server did not start in a network namespace");
  const std::string in = "nsenter -t " + pid + " -n ip ";
  const std::string script = "set -e; ip link add " + host_if_ +
                             " type veth peer name inet0 netns " + pid + "; ip addr add " +
                             subnet_ + ".1/24 dev " + host_if_ + "; ip link set " + host_if_ +
                             " up; " + in + "addr add " + address_ + "/24 dev inet0; " + in +
                             "link set inet0 up; " + in + "link set lo up";
  if (sh(script) != 0) return make_error("could not join the registries' namespace: " + script);
  for (int i = 0; i < 400 && !tcp_connects(address_, 80); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  if (!tcp_connects(address_, 80)) return make_error("the registries do not answer at " + address_);
  return ok();
}

std::string PackageRegistries::requests() const { return slurp(log_); }

std::map<std::string, std::optional<std::string>> PackageRegistries::mirror_env() const {
  return {{"PIP_INDEX_URL", "http://pypi.test/simple/"},
          {"PIP_TRUSTED_HOST", "pypi.test"},
          {"PIP_EXTRA_INDEX_URL", std::nullopt},
          {"npm_config_registry", "http://registry.test/"},
          {"NPM_CONFIG_REGISTRY", std::nullopt},
          {"ISOL8_APT_SOURCES", apt_sources()},
          {"ISOL8_INSTALL_HOSTS", std::nullopt}};
}

std::string PackageRegistries::apt_sources() {
  return "deb [trusted=yes] http://debian.test/debian ./";
}

std::vector<std::string> PackageRegistries::hosts_launcher() const {
  return {"/usr/bin/unshare",
          "-m",
          "--propagation",
          "private",
          "/bin/sh",
          "-c",
          "mount --bind \"$0\" /etc/hosts && exec \"$@\"",
          dir_ + "/hosts"};
}

}  // namespace isol8::test
