// The two CLI binaries (src/cli/main.cc): isol8 runs local native runs itself and hands every
// other command line to isol8-full, unchanged; without isol8-full (or with a copy of isol8 in its
// place) it says so instead of failing later or looping. And isol8 stays small: no docker
// backend, client, server, TLS or archive code in it.

#include <filesystem>

#include <nlohmann/json.hpp>

#include "support/files.h"
#include "support/test_support.h"

namespace isol8::test {
namespace {

namespace fs = std::filesystem;

class NativeCliBinaries : public LeakCheckedTest {
 protected:
  // isol8 copied into <dir>/bin of a directory of its own: no isol8-full beside it, nor in
  // <dir>/libexec/isol8. Returns the copy's path.
  std::string copy_isol8_alone() {
    fs::create_directories(alone_ / "bin");
    fs::permissions(alone_.path(), fs::perms::owner_all | fs::perms::group_read |
                                       fs::perms::group_exec | fs::perms::others_read |
                                       fs::perms::others_exec);
    const std::string copy = alone_.file("bin/isol8");
    fs::copy_file(kIsol8Binary, copy);
    return copy;
  }

  // `binary <args>` with the test's isolation (own cwd and HOME, its id map base).
  CliRun run_binary(const std::string& binary, const std::vector<std::string>& args) {
    CliOptions opts = cli().options();
    // The launcher drops the build's binary path (which run_cli_with appends) for `binary`.
    opts.launcher = {"/bin/sh", "-c", "shift; exec \"$0\" \"$@\"", binary};
    opts.hang_limit = std::chrono::seconds(60);
    return run_cli_with(args, opts);
  }

  // Where a copy in bin/ looks for isol8-full, as the error lists it (real paths: the binary
  // resolves its own through /proc/self/exe).
  std::string searched() const {
    const fs::path dir = fs::canonical(alone_.path());
    return (dir / "bin" / "isol8-full").string() + ", " +
           (dir / "libexec" / "isol8" / "isol8-full").string();
  }

  TempDir alone_{"isol8-alone"};
};

TEST_F(NativeCliBinaries, OtherCommandsRunInIsol8FullWithTheSameCommandLine) {
  // What only isol8-full has: the help listing every command, config, the version flag.
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
  const CliRun r = run_binary(copy_isol8_alone(), {"run", "-r", "bash", "-e", "echo alone"});
  EXPECT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_EQ(r.out, "alone\n") << describe(r);
}

TEST_F(NativeCliBinaries, WithoutIsol8FullOtherCommandsSaySoAndWhereItWasSought) {
  const std::string lone = copy_isol8_alone();
  const std::string message =
      "[ERR] this command needs the isol8-full binary, which was not found "
      "(searched: " +
      searched() +
      "); install it next to isol8 or in "
      "<prefix>/libexec/isol8\n";
  for (const std::vector<std::string>& args :
       std::vector<std::vector<std::string>>{{"doctor"},
                                             {"--help"},
                                             {"run", "--backend", "docker", "-e", "print(1)"},
                                             {"run", "--host", "http://127.0.0.1:1", "-e", "1"}}) {
    const CliRun r = run_binary(lone, args);
    EXPECT_EQ(r.exit_code, 1) << describe(r);
    EXPECT_TRUE(r.out.empty()) << describe(r);
    EXPECT_EQ(without_warnings(r.err), message) << describe(r);
  }
  // A run with --json still prints its error as JSON on stdout.
  const CliRun json_run = run_binary(lone, {"run", "--json", "--backend", "docker", "-e", "1"});
  EXPECT_EQ(json_run.exit_code, 1) << describe(json_run);
  const auto j = nlohmann::json::parse(json_run.out, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << describe(json_run);
  EXPECT_EQ(j, (nlohmann::json{{"error", message.substr(6, message.size() - 7)}}));
}

TEST_F(NativeCliBinaries, ACopyOfIsol8InPlaceOfIsol8FullIsRefusedNotLoopedOn) {
  const std::string lone = copy_isol8_alone();
  const std::string fake_full = alone_.file("bin/isol8-full");
  for (const bool link : {false, true}) {
    fs::remove(fake_full);
    if (link) {
      fs::create_symlink(lone, fake_full);
    } else {
      fs::copy_file(lone, fake_full);
    }
    const CliRun r = run_binary(lone, {"doctor"});
    EXPECT_FALSE(r.hung) << describe(r);
    EXPECT_EQ(r.exit_code, 1) << describe(r);
    EXPECT_TRUE(contains(r.err, "is not isol8-full but a copy of isol8; reinstall isol8"))
        << (link ? "symlink: " : "copy: ") << describe(r);
  }
}

// A guard on what keeps every run's start-up short (docs/benchmarks.md): none of these is linked
// into isol8, the binary every run starts.
TEST_F(NativeCliBinaries, Isol8LinksNoDockerClientServerTlsOrArchiveCode) {
  const std::string symbols = sh_out(std::string("nm -C '") + kIsol8Binary + "' 2>&1");
  ASSERT_TRUE(contains(symbols, "isol8::cli::run_command")) << "nm found no symbols";
  for (const char* unwanted : {"isol8::docker::", "isol8::client::", "isol8::server::",
                               "OPENSSL_init_ssl", "archive_read_new", "sqlite3_open"}) {
    EXPECT_FALSE(contains(symbols, unwanted)) << unwanted << " is linked into isol8";
  }
}

// The same guard for the loader's work: every shared library is mapped, relocated and searched
// at each start, and isol8 needs none but glibc's libc (libm's few functions are linked in).
TEST_F(NativeCliBinaries, Isol8LoadsNoSharedLibraryButLibc) {
  const std::string dynamic = sh_out(std::string("readelf -d '") + kIsol8Binary + "' 2>&1");
  ASSERT_TRUE(contains(dynamic, "(NEEDED)")) << dynamic;
  std::vector<std::string> needed;
  for (const std::string& line : lines_of(dynamic)) {
    if (line.find("(NEEDED)") == std::string::npos) continue;
    const auto from = line.find('[');
    const auto to = line.find(']', from);
    if (from == std::string::npos || to == std::string::npos) continue;
    const std::string library = line.substr(from + 1, to - from - 1);
    if (!library.starts_with("ld-linux")) needed.push_back(library);  // the loader itself
  }
  EXPECT_EQ(needed, std::vector<std::string>{"libc.so.6"}) << dynamic;
  // The static libm's other functions use glibc's private symbols: one linked in would tie isol8
  // to this exact glibc.
  const std::string symbols = sh_out(std::string("objdump -T '") + kIsol8Binary + "' 2>&1");
  ASSERT_TRUE(contains(symbols, "GLIBC_2.")) << symbols;
  EXPECT_FALSE(contains(symbols, "GLIBC_PRIVATE")) << symbols;
}

}  // namespace
}  // namespace isol8::test
