// The two CLI binaries (src/cli/main.cc): isol8 runs local native runs itself and hands every
// other command line to isol8-full, unchanged; without isol8-full it says so. And isol8 stays
// small: no docker backend, client, server, TLS or archive code in it.

#include <sys/stat.h>

#include <filesystem>

#include "support/test_support.h"

namespace isol8::test {
namespace {

namespace fs = std::filesystem;

class NativeCliBinaries : public LeakCheckedTest {
 protected:
  // isol8 copied alone into a directory of its own: no isol8-full beside it, nor in
  // ../libexec/isol8.
  void SetUp() override {
    LeakCheckedTest::SetUp();
    lone_ = alone_.file("bin/isol8");
    fs::create_directories(alone_ / "bin");
    fs::copy_file(kIsol8Binary, lone_);
    fs::permissions(lone_, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                               fs::perms::others_read | fs::perms::others_exec);
    ::chmod(alone_.path().c_str(), 0755);
  }

  // `lone_ <args>` with the test's usual isolation (own cwd and HOME).
  CliRun run_lone(const std::vector<std::string>& args) {
    CliOptions opts = cli().options();
    // The launcher drops the build's binary path (which run_cli_with appends) for the copy.
    opts.launcher = {"/bin/sh", "-c", "shift; exec \"$0\" \"$@\"", lone_};
    return run_cli_with(args, opts);
  }

  TempDir alone_{"isol8-alone"};
  std::string lone_;
};

TEST_F(NativeCliBinaries, OtherCommandsRunInIsol8FullWithTheSameCommandLine) {
  // What only isol8-full has: the help listing every command, config, doctor's checks.
  const CliRun help = cli().run({"--help"});
  EXPECT_EQ(help.exit_code, 0) << describe(help);
  EXPECT_TRUE(contains(help.out, "serve")) << describe(help);
  const CliRun config = cli().run({"config", "--json"});
  EXPECT_EQ(config.exit_code, 0) << describe(config);
  EXPECT_TRUE(contains(config.out, "\"audit\"")) << describe(config);
  const CliRun version = cli().run({"--version"});
  EXPECT_EQ(version.exit_code, 0) << describe(version);
  EXPECT_FALSE(version.out.empty());
}

TEST_F(NativeCliBinaries, ALocalNativeRunNeedsOnlyIsol8) {
  const CliRun r = run_lone({"run", "-r", "bash", "-e", "echo alone"});
  EXPECT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_EQ(r.out, "alone\n") << describe(r);
}

TEST_F(NativeCliBinaries, WithoutIsol8FullOtherCommandsSaySoAndWhereItWasSought) {
  const std::string searched = lone_ + "-full";
  for (const std::vector<std::string>& args :
       std::vector<std::vector<std::string>>{{"doctor"},
                                             {"--help"},
                                             {"run", "--backend", "docker", "-e", "print(1)"},
                                             {"run", "--host", "http://127.0.0.1:1", "-e", "1"}}) {
    const CliRun r = run_lone(args);
    EXPECT_EQ(r.exit_code, 1) << describe(r);
    EXPECT_TRUE(r.out.empty()) << describe(r);
    EXPECT_TRUE(contains(r.err,
                         "[ERR] this command needs the isol8-full binary, which was not "
                         "found (searched: " +
                             searched + ", " + alone_.path() + "/libexec/isol8/isol8-full)"))
        << describe(r);
  }
}

// A guard on what keeps every run's start-up short (docs/benchmarks.md): nothing of these is
// linked into isol8, the binary every run starts.
TEST_F(NativeCliBinaries, Isol8LinksNoDockerClientServerTlsOrArchiveCode) {
  const std::string symbols = sh_out(std::string("nm -C '") + kIsol8Binary + "' 2>&1");
  ASSERT_TRUE(contains(symbols, "isol8::cli::run_command")) << "nm found no symbols";
  for (const char* unwanted : {"isol8::docker::", "isol8::client::", "isol8::server::",
                               "OPENSSL_init_ssl", "archive_read_new", "sqlite3_open"}) {
    EXPECT_FALSE(contains(symbols, unwanted)) << unwanted << " is linked into isol8";
  }
}

}  // namespace
}  // namespace isol8::test
