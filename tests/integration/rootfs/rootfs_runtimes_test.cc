// The runtime roots that `isol8 setup` built (scripts/test builds them into the store it names in
// ISOL8_TEST_ROOTFS_STORE): every runtime runs in its own root, custom roots bake packages in,
// imports of exported roots run, and a root without the interpreter is a clear error.

#include <filesystem>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "rootfs/store.h"
#include "support/test_support.h"

namespace isol8::test {
namespace {

namespace fs = std::filesystem;

std::string test_store() {
  const char* s = std::getenv("ISOL8_TEST_ROOTFS_STORE");
  return s != nullptr ? s : "";
}

class RootfsTest : public NativeTest {
 protected:
  void SetUp() override {
    store_ = test_store();
    ASSERT_FALSE(store_.empty())
        << "ISOL8_TEST_ROOTFS_STORE is not set: the rootfs tier needs the roots `isol8 setup` "
           "builds; run it through ./scripts/test, or set it to a store built with isol8 setup";
    for (const char* rt : {"python", "node", "bun", "deno", "bash"}) {
      ASSERT_TRUE(fs::exists(fs::path(store_) / (std::string("isol8:") + rt + ".json")))
          << "isol8:" << rt << " is missing from the store " << store_;
    }
    NativeTest::SetUp();
  }

  CliRun cli(const std::vector<std::string>& args, std::string input = "") const {
    CliOptions o = home_.options(std::move(input));
    o.env["ISOL8_ROOTFS_STORE"] = store_;
    o.hang_limit = std::chrono::minutes(10);
    return run_cli_with(args, o);
  }
  std::string file(const std::string& name, const std::string& content) const {
    const std::string path = home_.dir().file(name);
    spit(path, content);
    return path;
  }
  // The store's entries, leaving out those of the other tests of this tier and other builds in
  // progress (which may run at the same time: ctest -j) but keeping every entry that mentions
  // `own_tag`.
  std::vector<std::string> store_entries(const std::string& own_tag) const {
    std::vector<std::string> out;
    for (const auto& e : fs::directory_iterator(store_)) {
      const std::string name = e.path().filename().string();
      const bool other = contains(name, "isol8-test-") || name.starts_with(".build-");
      if (other && !contains(name, own_tag)) continue;
      out.push_back(name);
    }
    std::sort(out.begin(), out.end());
    return out;
  }

  std::string store_;
  IsolatedCli home_;
};

struct Case {
  const char* runtime;
  const char* hello;       // prints "hello from <rt>"
  const char* echo_stdin;  // copies stdin to stdout
  const char* exit3;       // exits with 3
  const char* to_stderr;   // writes "oops" to stderr
};

void PrintTo(const Case& c, std::ostream* os) { *os << c.runtime; }

const Case kCases[] = {
    {"python", "print('hello from python')", "import sys; sys.stdout.write(sys.stdin.read())",
     "import sys; sys.exit(3)", "import sys; sys.stderr.write('oops\\n')"},
    {"node", "console.log('hello from node')", "process.stdin.pipe(process.stdout)",
     "process.exit(3)", "console.error('oops')"},
    {"bun", "console.log('hello from bun')", "process.stdout.write(await Bun.stdin.text())",
     "process.exit(3)", "console.error('oops')"},
    {"deno", "console.log('hello from deno')",
     "const t = await new Response(Deno.stdin.readable).text(); await Deno.stdout.write(new "
     "TextEncoder().encode(t))",
     "Deno.exit(3)", "console.error('oops')"},
    {"bash", "echo hello from bash", "cat", "exit 3", "echo oops >&2"},
};

class RuntimeRoot : public RootfsTest, public ::testing::WithParamInterface<Case> {};

TEST_P(RuntimeRoot, HelloStdinExitCodeAndStderr) {
  const Case& c = GetParam();
  auto r = cli({"run", "-r", c.runtime, "--debug", "-e", c.hello});
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_EQ(rtrim(r.out), std::string("hello from ") + c.runtime);
  // --debug says which root ran it.
  EXPECT_TRUE(contains(r.err, std::string("root filesystem: isol8:") + c.runtime)) << describe(r);

  r = cli({"run", "-r", c.runtime, "--stdin", "piped line\nsecond", "-e", c.echo_stdin});
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_EQ(r.out, "piped line\nsecond");

  r = cli({"run", "-r", c.runtime, "-e", c.exit3});
  EXPECT_EQ(r.exit_code, 3) << describe(r);

  r = cli({"run", "-r", c.runtime, "-e", c.to_stderr});
  EXPECT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_EQ(rtrim(without_warnings(r.err)), "oops") << describe(r);
  EXPECT_EQ(r.out, "");
}

TEST_P(RuntimeRoot, RunsInsideTheBuiltDebianRootAsTheSandboxUser) {
  const Case& c = GetParam();
  const std::string debian = rtrim(slurp(store_ + "/isol8:" + c.runtime + "/etc/debian_version"));
  ASSERT_FALSE(debian.empty());
  // --cmd runs bash inside the runtime's root.
  auto r = cli({"run", "-r", c.runtime, "--cmd",
                "cat /etc/debian_version; id -u; id -g; grep -c '^sandbox:x:100:101:' /etc/passwd; "
                "stat -c %u /usr/bin/bash; touch /usr/bin/x 2>/dev/null && echo WRITABLE; "
                "find / -xdev -perm /6000 -type f 2>/dev/null | head -n 3; echo end"});
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  // No host id of the root's files is mapped into the sandbox: they belong to nobody there.
  EXPECT_EQ(r.out, debian + "\n100\n101\n1\n65534\nend\n") << describe(r);
}

INSTANTIATE_TEST_SUITE_P(Runtimes, RuntimeRoot, ::testing::ValuesIn(kCases),
                         [](const auto& info) { return std::string(info.param.runtime); });

TEST_F(RootfsTest, PythonHasJsonAndSsl) {
  auto r = cli({"run", "-r", "python", "-e",
                "import json, ssl, sys; print(json.dumps({'ok': True}), sys.version_info[:2] >= "
                "(3, 11), ssl.OPENSSL_VERSION.startswith('OpenSSL'))"});
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_EQ(rtrim(r.out), "{\"ok\": true} True True");
}

TEST_F(RootfsTest, NodeIsACurrentLtsWithNpm) {
  auto r = cli({"run", "-r", "node", "--cmd",
                "node -p 'Number(process.versions.node.split(\".\")[0]) >= 22'; npm --version"});
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_TRUE(r.out.starts_with("true\n")) << describe(r);
  auto store = rootfs::RootfsStore::open(store_);
  ASSERT_TRUE(store);
  auto node = store->find("isol8:node");
  ASSERT_TRUE(node);
  EXPECT_TRUE(node->manifest.versions["node"].starts_with("22."))
      << node->manifest.versions["node"];
  EXPECT_EQ(rtrim(r.out.substr(5)), node->manifest.versions["npm"]) << describe(r);
}

// Upstream's node (22) runs ES modules and CommonJS alike: in -e code and .js files it tells
// them apart by their syntax; .mjs is always a module, .cjs always CommonJS.
TEST_F(RootfsTest, NodeRunsEsModulesAndCommonJsInlineAndInFiles) {
  const std::string esm =
      "import os from 'os';\nimport { basename } from 'node:path';\n"
      "console.log('esm', os.platform(), basename('/a/b.txt'));\n";
  const std::string cjs =
      "const os = require('os');\n"
      "console.log('cjs', os.platform(), typeof module.exports);\n";
  struct Run {
    std::vector<std::string> args;
    std::string out;
  } runs[] = {
      {{"-r", "node", "-e", esm}, "esm linux b.txt\n"},
      {{"-r", "node", "-e", cjs}, "cjs linux object\n"},
      {{"-r", "node", "-e", "const v = await Promise.resolve(42); console.log('tla', v)"},
       "tla 42\n"},
      {{file("esm.js", esm)}, "esm linux b.txt\n"},
      {{file("cjs.js", cjs)}, "cjs linux object\n"},
      {{file("main.mjs", esm)}, "esm linux b.txt\n"},
      {{file("main.cjs", cjs)}, "cjs linux object\n"},
  };
  for (const auto& run : runs) {
    std::vector<std::string> args = {"run"};
    args.insert(args.end(), run.args.begin(), run.args.end());
    auto r = cli(args);
    EXPECT_EQ(r.exit_code, 0) << describe(r);
    EXPECT_EQ(r.out, run.out) << describe(r);
    // No warning about reparsing or module types: nothing on stderr.
    EXPECT_EQ(without_warnings(r.err), "") << describe(r);
  }
  // A .mjs file is a module whatever its content: no require() there.
  auto r = cli({"run", file("bad.mjs", "console.log(typeof require)\n")});
  EXPECT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_EQ(r.out, "undefined\n") << describe(r);
}

TEST_F(RootfsTest, BunAndDenoRunTypeScript) {
  const std::string ts = file("main.ts",
                              "interface P { n: number }\n"
                              "const p: P = { n: 40 + 2 };\n"
                              "console.log(`bun ${p.n}`);\n");
  auto r = cli({"run", ts});
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_EQ(rtrim(r.out), "bun 42");
  const std::string mts = file("main.mts",
                               "type P = { n: number };\n"
                               "const p: P = { n: 6 * 7 };\n"
                               "console.log(`deno ${p.n}`);\n");
  r = cli({"run", mts});
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_EQ(rtrim(r.out), "deno 42");
}

TEST_F(RootfsTest, RootWithoutTheInterpreterIsAClearError) {
  auto r = cli({"run", "--image", "isol8:bash", "-r", "python", "-e", "print(1)"});
  EXPECT_EQ(r.exit_code, 1) << describe(r);
  EXPECT_TRUE(contains(r.err, "[ERR] Runtime \"python\" needs the interpreter \"python3\""))
      << describe(r);
  EXPECT_TRUE(contains(r.err, store_ + "/isol8:bash")) << describe(r);
}

TEST_F(RootfsTest, MissingImageNamesTheImageAndTheStore) {
  auto r = cli({"run", "--image", "no-such-image", "-e", "print(1)"});
  EXPECT_EQ(r.exit_code, 1) << describe(r);
  EXPECT_TRUE(contains(r.err, "[ERR] Image no-such-image not found in the rootfs store " + store_))
      << describe(r);
  EXPECT_TRUE(contains(r.err, "isol8 setup")) << describe(r);
}

TEST_F(RootfsTest, SetupReportsUpToDateRoots) {
  auto r = cli({"setup", "--runtime", "bash,python"});
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_TRUE(contains(r.out, "[OK] bash: Up to date\n")) << describe(r);
  EXPECT_TRUE(contains(r.out, "[OK] python: Up to date\n")) << describe(r);
  EXPECT_TRUE(contains(r.out, "[DONE] Setup complete!\n")) << describe(r);
  r = cli({"setup", "--runtime", "cobol"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(contains(r.err, "[ERR] Invalid runtime: cobol.")) << describe(r);
}

TEST_F(RootfsTest, CustomNodeRootWithABakedNpmPackage) {
  const std::string tag = "isol8-test-is-number-" + std::to_string(::getpid());
  auto r = cli({"build", "--base", "node", "--install", "is-number", "--setup",
                "echo image-setup > /sandbox/from-image", "--tag", tag});
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_TRUE(contains(r.out, "[DONE] Custom image build complete!")) << describe(r);
  EXPECT_TRUE(contains(r.out, "Packages: is-number")) << describe(r);

  r = cli({"run", "--image", tag, "-r", "node", "-e",
           "const isNumber = require('is-number'); console.log(isNumber(5), isNumber('x'))"});
  EXPECT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_EQ(rtrim(r.out), "true false");

  r = cli({"list-custom"});
  EXPECT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_TRUE(contains(
      r.out, tag + "\n  Runtime:  node\n  Packages: is-number\n  Setup:    echo image-setup"))
      << describe(r);

  // Without --force an existing tag is an error.
  r = cli({"build", "--base", "node", "--install", "is-number", "--tag", tag});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(contains(r.err, "already exists")) << describe(r);

  r = cli({"rootfs", "rm", tag});
  EXPECT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_FALSE(fs::exists(fs::path(store_) / tag));
}

TEST_F(RootfsTest, UnreachableRegistryIsNamedAndTheStoreIsUnchanged) {
  const std::string tag = "isol8-test-pypi-" + std::to_string(::getpid());
  const auto before = store_entries(tag);
  // PyPI is not reachable from this machine (and never from the tests' point of view): the
  // build says so, names the index and the variable that points pip at a mirror.
  CliOptions o = home_.options();
  o.env["ISOL8_ROOTFS_STORE"] = store_;
  o.env["PIP_INDEX_URL"] = std::nullopt;
  o.hang_limit = std::chrono::minutes(10);
  auto r = run_cli_with(
      {"build", "--base", "python", "--install", "isol8-no-such-package-xyz", "--tag", tag}, o);
  EXPECT_EQ(r.exit_code, 1) << describe(r);
  EXPECT_TRUE(contains(r.err, "[ERR] " + tag +
                                  ": install isol8-no-such-package-xyz failed: the package "
                                  "registry https://pypi.org/simple could not be reached ("))
      << describe(r);
  EXPECT_TRUE(contains(r.err, "PIP_INDEX_URL=<url>")) << describe(r);
  EXPECT_TRUE(contains(r.err, "the build log is " + store_ + "/logs/build-")) << describe(r);
  EXPECT_EQ(store_entries(tag), before);
}

TEST_F(RootfsTest, BuildRejectsBadInput) {
  auto r = cli({"build", "--base", "python", "--install", "ok,bad;rm", "--tag", "t"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(contains(r.err,
                       "[ERR] Invalid package name: \"bad;rm\". Only alphanumeric, -, _, ., /, @, "
                       "and = are allowed."))
      << describe(r);
  r = cli({"build", "--base", "python", "--tag", "t"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(contains(
      r.err,
      "[ERR] No packages or setup script specified. Use --install <package> or --setup <command>."))
      << describe(r);
  r = cli({"build", "--base", "python", "--install", "x", "--tag", "../up"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(contains(r.err, "[ERR] Invalid image tag: \"../up\"")) << describe(r);
  r = cli({"build", "--base", "agent", "--install", "x", "--tag", "t"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(contains(r.err, "[ERR] Invalid runtime: agent.")) << describe(r);
}

TEST_F(RootfsTest, CtrlCDuringABuildLeavesTheStoreUnchanged) {
  const std::string tag = "isol8-test-cancel-" + std::to_string(::getpid());
  const auto before = store_entries(tag);
  CliOptions o = home_.options();
  o.env["ISOL8_ROOTFS_STORE"] = store_;
  CliProcess p({"build", "--base", "node", "--setup", "true", "--tag", tag}, o);
  ASSERT_TRUE(p.started());
  // Wait for the build directory (the copy of isol8:node takes a while), then interrupt. Other
  // builds of this tier may hold the store's lock for a while first.
  bool seen = false;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(5);
  while (!seen && std::chrono::steady_clock::now() < deadline) {
    for (const auto& e : fs::directory_iterator(store_)) {
      if (e.path().filename().string().starts_with(".build-" + tag)) seen = true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_TRUE(seen) << "no build directory appeared";
  p.signal(SIGINT);
  auto r = p.wait();
  EXPECT_EQ(r.exit_code, 130) << describe(r);
  EXPECT_TRUE(contains(r.err, "Cancelled")) << describe(r);
  EXPECT_EQ(store_entries(tag), before);
}

TEST_F(RootfsTest, ImportOfAnExportedRootRuns) {
  TempDir tmp;
  const std::string tar = tmp.file("bash-root.tar");
  const std::string cmd = "tar -C '" + store_ + "/isol8:bash' -cf '" + tar + "' .";
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
  const std::string tag = "isol8-test-imported-" + std::to_string(::getpid());
  auto r = cli({"rootfs", "import", "--tar", tar, "--tag", tag, "--runtime", "bash"});
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_TRUE(contains(r.out, "[OK] Imported " + tag)) << describe(r);
  r = cli({"run", "--image", tag, "--cmd",
           "echo imported; cat /etc/debian_version; find / -xdev -perm /6000 -type f | wc -l"});
  EXPECT_EQ(r.exit_code, 0) << describe(r);
  const std::string debian = rtrim(slurp(store_ + "/isol8:bash/etc/debian_version"));
  EXPECT_EQ(r.out, "imported\n" + debian + "\n0\n") << describe(r);
  r = cli({"list-custom"});
  EXPECT_TRUE(contains(r.out, tag + "\n  Runtime:  bash\n  Packages: (none)")) << describe(r);
  r = cli({"rootfs", "rm", tag});
  EXPECT_EQ(r.exit_code, 0) << describe(r);
}

// doctor names the root each runtime's runs use, with the versions its manifest records.
TEST_F(RootfsTest, DoctorNamesEachRuntimesRootWithItsVersions) {
  auto r = cli({"doctor"});
  auto store = rootfs::RootfsStore::open(store_);
  ASSERT_TRUE(store);
  for (const char* rt : {"python", "node", "bun", "deno", "bash"}) {
    auto root = store->find(std::string("isol8:") + rt);
    ASSERT_TRUE(root);
    const std::string line =
        fmt::format("[OK]    {:<26} isol8:{} from the store {} ({} {}",
                    std::string("runtime ") + rt, rt, store_, rt, root->manifest.versions[rt]);
    EXPECT_TRUE(contains(r.out, line)) << line << "\n" << describe(r);
  }
  EXPECT_TRUE(contains(r.out, "(node 22.")) << describe(r);
}

}  // namespace
}  // namespace isol8::test

namespace isol8::test {
namespace {

// Outside the fixture: needs no store. Building roots needs root; an unprivileged user is told so
// and pointed at imports.
TEST(RootfsUnprivileged, SetupAndBuildSayTheyNeedRoot) {
  if (::geteuid() != 0) GTEST_SKIP() << "switching to an unprivileged user needs root";
  TempDir home;
  ::chmod(home.path().c_str(), 0777);
  for (const std::string args : {"setup", "build --base node --install is-number --tag t"}) {
    const std::string cmd = "cd / && HOME='" + home.path() +
                            "' setpriv --reuid=65534 --regid=65534 --clear-groups '" +
                            kIsol8Binary + "' " + args + " 2>&1; echo \"rc=$?\"";
    const std::string out = sh_out(cmd);
    EXPECT_TRUE(contains(out, "[ERR] Building runtime roots needs root")) << args << ": " << out;
    EXPECT_TRUE(contains(out, "isol8 rootfs import --tar")) << out;
    EXPECT_TRUE(contains(out, "rc=1")) << out;
  }
}

}  // namespace
}  // namespace isol8::test
