// The per-run directories named after their runner's pid (common/pid_dirs.h): which names are
// recognised, and that only the directories of dead pids are removed.
#include "common/pid_dirs.h"
#include "support/files.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include <fmt/format.h>

namespace isol8 {
namespace {

namespace fs = std::filesystem;

TEST(PidDirs, NamesCarryThePid) {
  EXPECT_EQ(pid_of_dir_name("isol8-proxy-1234-aB3xYz", "isol8-proxy-"), 1234);
  EXPECT_EQ(pid_of_dir_name("isol8-proxy-1234-", "isol8-proxy-"), 1234);
  // The old unnumbered name, other prefixes and malformed pids are not ours to judge.
  EXPECT_EQ(pid_of_dir_name("isol8-proxy-aB3xYz", "isol8-proxy-"), std::nullopt);
  EXPECT_EQ(pid_of_dir_name("isol8-relay-1234-aB3xYz", "isol8-proxy-"), std::nullopt);
  EXPECT_EQ(pid_of_dir_name("isol8-proxy-1234", "isol8-proxy-"), std::nullopt);
  EXPECT_EQ(pid_of_dir_name("isol8-proxy-0-abc", "isol8-proxy-"), std::nullopt);
  EXPECT_EQ(pid_of_dir_name("isol8-proxy--5-abc", "isol8-proxy-"), std::nullopt);
  EXPECT_EQ(pid_of_dir_name("isol8-proxy-12x-abc", "isol8-proxy-"), std::nullopt);
}

// A pid that certainly does not exist any more: a child that has been reaped.
pid_t dead_pid() {
  const pid_t child = ::fork();
  if (child == 0) ::_exit(0);
  ::waitpid(child, nullptr, 0);
  return child;
}

TEST(PidDirs, OnlyDeadPidsDirectoriesAreRemoved) {
  const test::TempDir tmp("isol8-pid-dirs-test");
  ASSERT_FALSE(tmp.path().empty());
  const fs::path parent = tmp.path();
  auto mine = make_pid_dir("isol8-proxy-", parent);
  ASSERT_TRUE(mine) << mine.error().message;
  EXPECT_TRUE(
      fs::path(*mine).filename().string().starts_with(fmt::format("isol8-proxy-{}-", ::getpid())));
  const fs::path dead = parent / fmt::format("isol8-proxy-{}-deadXX", dead_pid());
  const fs::path dead_other_prefix = parent / fmt::format("isol8-relay-{}-deadXX", dead_pid());
  const fs::path unnumbered = parent / "isol8-proxy-abcdef";
  const fs::path dead_file = parent / fmt::format("isol8-proxy-{}-file", dead_pid());
  for (const auto& d : {dead, dead_other_prefix, unnumbered}) fs::create_directory(d);
  fs::create_directory(dead / "inner");
  { std::ofstream(dead / "inner" / "proxy.sock") << "x"; }
  { std::ofstream(dead_file) << "x"; }

  EXPECT_EQ(remove_dead_pid_dirs("isol8-proxy-", parent), 1u);
  EXPECT_FALSE(fs::exists(dead));
  EXPECT_TRUE(fs::exists(*mine)) << "a live runner's directory was removed";
  EXPECT_TRUE(fs::exists(dead_other_prefix));
  EXPECT_TRUE(fs::exists(unnumbered));
  EXPECT_TRUE(fs::exists(dead_file)) << "only directories are reclaimed";
  EXPECT_EQ(remove_dead_pid_dirs("isol8-proxy-", parent), 0u);
}

}  // namespace
}  // namespace isol8
