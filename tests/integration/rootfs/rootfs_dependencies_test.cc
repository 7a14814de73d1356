// Config `dependencies`: `isol8 setup` bakes dependencies.<runtime> into isol8:<runtime>. The
// package comes from an npm registry this test serves on loopback (a packument and a tarball
// made by `npm pack`), named to the build through npm_config_registry; nothing leaves the
// machine. The builds go to a store of the test's own, seeded with a copy of the tier's
// isol8:node, so that the shared store is never changed.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <mutex>
#include <thread>

#include <gtest/gtest.h>

#include "rootfs/builder.h"
#include "rootfs/store.h"
#include "support/test_support.h"

namespace isol8::test {
namespace {

namespace fs = std::filesystem;

// Serves fixed bodies by path over HTTP/1.1 on 127.0.0.1, one connection at a time, and
// records the paths asked for.
class StaticHttpServer {
 public:
  StaticHttpServer() {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (fd_ < 0 || ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        ::listen(fd_, 16) != 0 ||
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      throw std::runtime_error("cannot listen on 127.0.0.1");
    }
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { serve(); });
  }
  ~StaticHttpServer() {
    stopping_ = true;
    ::shutdown(fd_, SHUT_RDWR);  // wakes accept()
    thread_.join();
    ::close(fd_);
  }
  StaticHttpServer(const StaticHttpServer&) = delete;
  StaticHttpServer& operator=(const StaticHttpServer&) = delete;

  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/"; }
  void put(const std::string& path, std::string body) {
    std::lock_guard lock(mutex_);
    files_[path] = std::move(body);
  }
  std::vector<std::string> requests() const {
    std::lock_guard lock(mutex_);
    return requests_;
  }

 private:
  void serve() {
    while (!stopping_) {
      const int c = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0) {
        if (errno == EINTR) continue;
        return;
      }
      handle(c);
      ::close(c);
    }
  }
  void handle(int c) {
    std::string request;
    char buf[4096];
    while (request.find("\r\n\r\n") == std::string::npos) {
      const ssize_t n = ::read(c, buf, sizeof buf);
      if (n <= 0) return;
      request.append(buf, static_cast<size_t>(n));
    }
    const size_t sp1 = request.find(' ');
    const size_t sp2 = request.find(' ', sp1 + 1);
    std::string path = request.substr(sp1 + 1, sp2 - sp1 - 1);
    path = path.substr(0, path.find('?'));
    std::string body;
    bool found = false;
    {
      std::lock_guard lock(mutex_);
      requests_.push_back(path);
      if (auto it = files_.find(path); it != files_.end()) {
        body = it->second;
        found = true;
      }
    }
    const std::string head =
        std::string(found ? "HTTP/1.1 200 OK\r\n" : "HTTP/1.1 404 Not Found\r\n") +
        (path.ends_with(".tgz") ? "Content-Type: application/octet-stream\r\n"
                                : "Content-Type: application/json\r\n") +
        "Content-Length: " + std::to_string(found ? body.size() : 2) +
        "\r\nConnection: close\r\n\r\n" + (found ? body : "{}");
    size_t off = 0;
    while (off < head.size()) {
      const ssize_t n = ::write(c, head.data() + off, head.size() - off);
      if (n <= 0) return;
      off += static_cast<size_t>(n);
    }
  }

  int fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stopping_{false};
  mutable std::mutex mutex_;
  std::map<std::string, std::string> files_;
  std::vector<std::string> requests_;
  std::thread thread_;
};

std::string run_shell(const std::string& cmd) {
  FILE* p = ::popen(cmd.c_str(), "r");
  if (p == nullptr) return "";
  std::string out;
  char buf[4096];
  while (size_t n = std::fread(buf, 1, sizeof buf, p)) out.append(buf, n);
  ::pclose(p);
  return out;
}

constexpr const char* kPackage = "isol8-test-dep";

class Dependencies : public NativeTest {
 protected:
  void SetUp() override {
    const char* shared = std::getenv("ISOL8_TEST_ROOTFS_STORE");
    ASSERT_TRUE(shared != nullptr && *shared)
        << "ISOL8_TEST_ROOTFS_STORE is not set: the rootfs tier needs the roots `isol8 setup` "
           "builds; run it through ./scripts/test";
    auto store = rootfs::RootfsStore::open(shared);
    ASSERT_TRUE(store) << store.error().message;
    auto node = store->find("isol8:node");
    ASSERT_TRUE(node) << "isol8:node is missing from the store " << shared;
    ASSERT_EQ(node->manifest.recipe_hash, rootfs::runtime_root_hash("node", {}))
        << "isol8:node in " << shared << " is not built from this build's recipes (or has "
        << "dependencies); run isol8 setup";
    NativeTest::SetUp();
    // The test's own store, seeded with the tier's isol8:node: setup adds the dependencies to
    // a copy of it (a root of the current recipes) instead of building from the Debian base.
    // The sandbox (another uid) walks the path to the store's roots.
    ASSERT_EQ(::chmod(work_.path().c_str(), 0755), 0);
    store_ = work_.file("store");
    fs::create_directories(store_);
    const std::string seed = "cp -a --reflink=auto '" + node->dir.string() + "' '" + store_ +
                             "/isol8:node' && cp '" + node->dir.string() + ".json' '" + store_ +
                             "/isol8:node.json' && echo copied";
    ASSERT_EQ(run_shell(seed), "copied\n") << seed;
    project_ = work_.file("project");
    fs::create_directories(project_);
  }

  // A package made with `npm pack` and served with its packument.
  void serve_package() {
    const std::string pkg = work_.file("pkg");
    fs::create_directories(pkg);
    ASSERT_TRUE(
        spit(pkg + "/package.json", std::string("{\"name\": \"") + kPackage +
                                        "\", \"version\": \"1.0.0\", \"main\": \"index.js\"}\n"));
    ASSERT_TRUE(
        spit(pkg + "/index.js", "exports.greet = (who) => 'hello ' + who + ' from the dep';\n"));
    const std::string packed =
        run_shell("cd '" + pkg + "' && npm pack --json --pack-destination '" + work_.path() +
                  "' 2>/dev/null");
    const auto info = nlohmann::json::parse(packed, nullptr, false);
    ASSERT_TRUE(info.is_array() && info.size() == 1) << "npm pack printed: " << packed;
    const std::string tgz = info[0]["filename"].get<std::string>();
    const std::string tarball = slurp(work_.file(tgz));
    ASSERT_FALSE(tarball.empty());
    const std::string tarball_path = std::string("/") + kPackage + "/-/" + tgz;
    nlohmann::json version = {{"name", kPackage},
                              {"version", "1.0.0"},
                              {"main", "index.js"},
                              {"dist",
                               {{"tarball", registry_.url() + tarball_path.substr(1)},
                                {"shasum", info[0]["shasum"]},
                                {"integrity", info[0]["integrity"]}}}};
    nlohmann::json packument = {{"name", kPackage},
                                {"dist-tags", {{"latest", "1.0.0"}}},
                                {"versions", {{"1.0.0", version}}}};
    registry_.put(std::string("/") + kPackage, packument.dump());
    registry_.put(tarball_path, tarball);
  }

  CliRun cli(const std::vector<std::string>& args, const std::string& registry) const {
    CliOptions o = home_.options();
    o.cwd = project_;
    o.env["ISOL8_ROOTFS_STORE"] = store_;
    o.env["npm_config_registry"] = registry;
    o.env["NPM_CONFIG_REGISTRY"] = std::nullopt;
    o.hang_limit = std::chrono::minutes(10);
    return run_cli_with(args, o);
  }

  TempDir work_;
  IsolatedCli home_;
  std::string store_;
  std::string project_;
  StaticHttpServer registry_;
};

TEST_F(Dependencies, SetupBakesConfiguredNodePackagesForRequireAndImport) {
  serve_package();
  ASSERT_TRUE(spit(project_ + "/isol8.config.json",
                   std::string("{\"dependencies\": {\"node\": [\"") + kPackage + "\"]}}\n"));

  auto r = cli({"config", "--json"}, registry_.url());
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_EQ(nlohmann::json::parse(r.out)["dependencies"],
            nlohmann::json::parse(R"({"node": ["isol8-test-dep"]})"));

  r = cli({"setup", "--runtime", "node"}, registry_.url());
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_TRUE(contains(r.out, "[OK] node\n")) << describe(r);
  EXPECT_TRUE(contains(r.out, "[DONE] Setup complete!")) << describe(r);
  // npm asked the test's registry, for the packument and the tarball.
  const auto asked = registry_.requests();
  EXPECT_NE(std::find(asked.begin(), asked.end(), std::string("/") + kPackage), asked.end());

  auto store = rootfs::RootfsStore::open(store_);
  ASSERT_TRUE(store);
  auto node = store->find("isol8:node");
  ASSERT_TRUE(node);
  EXPECT_EQ(node->manifest.packages, std::vector<std::string>{kPackage});
  EXPECT_EQ(node->manifest.recipe_hash, rootfs::runtime_root_hash("node", {kPackage}));

  // CommonJS and ES modules find it, in -e code and in files.
  r = cli({"run", "-r", "node", "-e",
           "const dep = require('isol8-test-dep'); console.log(dep.greet('require'))"},
          registry_.url());
  EXPECT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_EQ(r.out, "hello require from the dep\n") << describe(r);
  r = cli({"run", "-r", "node", "-e",
           "import dep from 'isol8-test-dep'; console.log(dep.greet('import'))"},
          registry_.url());
  EXPECT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_EQ(r.out, "hello import from the dep\n") << describe(r);
  ASSERT_TRUE(spit(project_ + "/main.mjs",
                   "import { greet } from 'isol8-test-dep';\nconsole.log(greet('a module'));\n"));
  r = cli({"run", project_ + "/main.mjs"}, registry_.url());
  EXPECT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_EQ(r.out, "hello a module from the dep\n") << describe(r);

  // The same list again: nothing to do. doctor shows the root with its versions and packages.
  r = cli({"setup", "--runtime", "node"}, registry_.url());
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_TRUE(contains(r.out, "[OK] node: Up to date\n")) << describe(r);
  r = cli({"doctor"}, registry_.url());
  EXPECT_TRUE(contains(r.out, "runtime node")) << describe(r);
  EXPECT_TRUE(contains(r.out, "isol8:node from the store " + store_ + " (node 22.")) << describe(r);
  EXPECT_TRUE(contains(r.out, "; packages: isol8-test-dep")) << describe(r);
}

TEST_F(Dependencies, UnreachableRegistryIsNamedWithTheVariableThatChangesIt) {
  ASSERT_TRUE(spit(project_ + "/isol8.config.json",
                   std::string("{\"dependencies\": {\"node\": [\"") + kPackage + "\"]}}\n"));
  // Port 1 of loopback: nothing listens, the connection is refused at once.
  const std::string closed = "http://127.0.0.1:1/";
  auto r = cli({"setup", "--runtime", "node"}, closed);
  EXPECT_EQ(r.exit_code, 1) << describe(r);
  EXPECT_TRUE(contains(r.out,
                       "[ERR] node: node: install isol8-test-dep failed: the package "
                       "registry http://127.0.0.1:1/ could not be reached ("))
      << describe(r);
  EXPECT_TRUE(contains(r.out, "ECONNREFUSED")) << describe(r);
  EXPECT_TRUE(contains(r.out, "npm_config_registry=<url>")) << describe(r);
  // The root is unchanged: still the one without dependencies.
  auto store = rootfs::RootfsStore::open(store_);
  ASSERT_TRUE(store);
  auto node = store->find("isol8:node");
  ASSERT_TRUE(node);
  EXPECT_TRUE(node->manifest.packages.empty());
}

}  // namespace
}  // namespace isol8::test
