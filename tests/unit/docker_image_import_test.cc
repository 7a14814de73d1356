#include "backends/docker/image_import.h"

#include <archive.h>
#include <archive_entry.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>

namespace isol8::docker {
namespace {

namespace fs = std::filesystem;

struct Member {
  int type = 0;
  std::string content;
  std::string link;
  int64_t uid = -1;
};

std::map<std::string, Member> list_tar(const std::string& tar) {
  std::map<std::string, Member> out;
  archive* a = archive_read_new();
  archive_read_support_format_tar(a);
  EXPECT_EQ(archive_read_open_memory(a, tar.data(), tar.size()), ARCHIVE_OK);
  archive_entry* e = nullptr;
  while (archive_read_next_header(a, &e) == ARCHIVE_OK) {
    Member m;
    m.type = archive_entry_filetype(e);
    m.uid = archive_entry_uid(e);
    if (archive_entry_symlink(e) != nullptr) m.link = archive_entry_symlink(e);
    m.content.resize(static_cast<size_t>(archive_entry_size(e)));
    if (!m.content.empty()) archive_read_data(a, m.content.data(), m.content.size());
    out[archive_entry_pathname(e)] = m;
  }
  archive_read_free(a);
  return out;
}

class ImportTar : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("isol8-import-" + std::to_string(::getpid()));
    fs::create_directories(dir_ / "root/usr/bin");
    std::ofstream(dir_ / "root/usr/bin/tool") << "binary";
    std::ofstream(dir_ / "outside-secret") << "must not be archived";
    fs::create_symlink(dir_ / "outside-secret", dir_ / "root/escape");
    fs::create_directory_symlink(dir_ / "root", dir_ / "via-link");
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
};

TEST_F(ImportTar, SymlinksAreArchivedNotFollowed) {
  std::string tar;
  auto r = stream_directory_tar(dir_ / "root", [&](std::string_view d) -> Result<void> {
    tar.append(d);
    return ok();
  });
  ASSERT_TRUE(r) << r.error().message;
  auto m = list_tar(tar);
  ASSERT_TRUE(m.count("usr/bin/tool"));
  EXPECT_EQ(m["usr/bin/tool"].content, "binary");
  EXPECT_EQ(m["usr/bin/tool"].uid, static_cast<int64_t>(::getuid()));
  ASSERT_TRUE(m.count("escape"));
  EXPECT_EQ(m["escape"].type, AE_IFLNK);
  EXPECT_EQ(m["escape"].link, (dir_ / "outside-secret").string());
  EXPECT_EQ(tar.find("must not be archived"), std::string::npos);
}

TEST_F(ImportTar, TheRootMayBeReachedThroughASymlink) {
  std::string tar;
  auto r = stream_directory_tar(dir_ / "via-link", [&](std::string_view d) -> Result<void> {
    tar.append(d);
    return ok();
  });
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_TRUE(list_tar(tar).count("usr/bin/tool"));
}

TEST_F(ImportTar, WriterErrorsStopTheStream) {
  auto r = stream_directory_tar(dir_ / "root", [](std::string_view) -> Result<void> {
    return make_error("daemon went away");
  });
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("daemon went away"), std::string::npos);
}

TEST_F(ImportTar, OnlyRootsWithBashAndSleepGetTheBackstop) {
  const fs::path root = dir_ / "root";
  EXPECT_FALSE(root_supports_backstop(root));
  std::ofstream(root / "usr/bin/bash") << "binary";
  EXPECT_FALSE(root_supports_backstop(root)) << "no sleep";
  fs::create_directory(root / "bin");
  std::ofstream(root / "bin/sleep") << "binary";
  EXPECT_TRUE(root_supports_backstop(root));
  fs::remove(root / "usr/bin/bash");
  EXPECT_FALSE(root_supports_backstop(root)) << "no bash";
}

TEST(ImportStore, DefaultStorePath) { EXPECT_EQ(default_rootfs_store("/x/y"), fs::path("/x/y")); }

}  // namespace
}  // namespace isol8::docker
