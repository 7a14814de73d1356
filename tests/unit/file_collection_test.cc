// collect_files (the CLI's --files) and resolve_file_path (request.files keys): pure parts.

#include "core/file_collection.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "core/run_preparation.h"
#include "support/files.h"

namespace isol8 {
namespace {
namespace fs = std::filesystem;

class FileCollection : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_FALSE(dir_.empty()); }
  void write(const std::string& rel, const std::string& content) {
    fs::create_directories(fs::path(dir_ + "/" + rel).parent_path());
    std::ofstream(dir_ + "/" + rel) << content;
  }
  const test::TempDir tmp_{"isol8-files"};
  const std::string dir_ = tmp_.path();
};

TEST_F(FileCollection, CollectsRegularFilesByRelativePath) {
  write("a.txt", "A");
  write("x/y/z.txt", "Z");
  auto got = collect_files(dir_, 1 << 20);
  ASSERT_TRUE(got) << got.error().message;
  EXPECT_EQ(got->files, (std::map<std::string, std::string>{{"/sandbox/a.txt", "A"},
                                                            {"/sandbox/x/y/z.txt", "Z"}}));
}

TEST_F(FileCollection, SkipsUpstreamsDirectoriesAtAnyDepth) {
  for (const char* d : kSkippedDirectories) {
    write(std::string(d) + "/f", "skip");
    write(std::string("nested/") + d + "/f", "skip");
  }
  write("keep/venv.txt", "keep");
  auto got = collect_files(dir_, 1 << 20);
  ASSERT_TRUE(got) << got.error().message;
  EXPECT_EQ(got->files.size(), 1u);
  EXPECT_EQ(got->files.count("/sandbox/keep/venv.txt"), 1u);
}

TEST_F(FileCollection, LinksInsideAreReadLinksOutsideAreReported) {
  write("real.txt", "real");
  ASSERT_EQ(::symlink("real.txt", (dir_ + "/alias").c_str()), 0);
  ASSERT_EQ(::symlink("/etc/hostname", (dir_ + "/host").c_str()), 0);
  ASSERT_EQ(::symlink("../../../../etc", (dir_ + "/etcdir").c_str()), 0);
  ASSERT_EQ(::symlink("missing", (dir_ + "/dangling").c_str()), 0);
  auto got = collect_files(dir_, 1 << 20);
  ASSERT_TRUE(got) << got.error().message;
  EXPECT_EQ(got->files.at("/sandbox/alias"), "real");
  EXPECT_EQ(got->files.count("/sandbox/host"), 0u);
  std::vector<std::string> skipped = got->skipped_links;
  std::sort(skipped.begin(), skipped.end());
  EXPECT_EQ(skipped, (std::vector<std::string>{"dangling", "etcdir", "host"}));
}

TEST_F(FileCollection, ErrorsNameTheProblem) {
  EXPECT_EQ(collect_files(dir_ + "/missing", 10).error().message,
            "--files path is not a directory");
  write("big", std::string(100, 'x'));
  auto r = collect_files(dir_, 10);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("holds more than 10 bytes"), std::string::npos);
}

TEST(ResolveFilePath, AcceptsPathsUnderSandboxOnly) {
  EXPECT_EQ(*resolve_file_path("/sandbox/a/./b/../c"), "/sandbox/a/c");
  EXPECT_EQ(*resolve_file_path("rel/x"), "/sandbox/rel/x");
  for (const char* bad : {"/sandbox", "/sandbox/..", "/etc/passwd", "../../x", "/sandboxy/x"}) {
    auto r = resolve_file_path(bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().message, std::string("File path must be inside /sandbox: ") + bad);
  }
  EXPECT_FALSE(resolve_file_path(std::string("/sandbox/a\0b", 12)));
}

TEST_F(FileCollection, KeepsPermissionBitsAndDropsSpecialBits) {
  write("run.sh", "#!/bin/sh\n");
  write("private.txt", "p");
  write("suid", "s");
  write("sticky", "t");
  ASSERT_EQ(::chmod((dir_ + "/run.sh").c_str(), 0755), 0);
  ASSERT_EQ(::chmod((dir_ + "/private.txt").c_str(), 0600), 0);
  ASSERT_EQ(::chmod((dir_ + "/suid").c_str(), 06755), 0);
  ASSERT_EQ(::chmod((dir_ + "/sticky").c_str(), 01644), 0);
  ASSERT_EQ(::symlink("run.sh", (dir_ + "/alias").c_str()), 0);
  auto got = collect_files(dir_, 1 << 20);
  ASSERT_TRUE(got) << got.error().message;
  EXPECT_EQ(got->modes, (std::map<std::string, uint32_t>{{"/sandbox/alias", 0755},
                                                         {"/sandbox/private.txt", 0600},
                                                         {"/sandbox/run.sh", 0755},
                                                         {"/sandbox/sticky", 0644},
                                                         {"/sandbox/suid", 0755}}));
}

}  // namespace
}  // namespace isol8
