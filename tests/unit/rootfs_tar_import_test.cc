// The tar import refuses archives that could escape the root or smuggle privileges, and leaves
// the store unchanged when it does. The archives are written here with libarchive.

#include "rootfs/tar_import.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>

#include <gtest/gtest.h>

#include "common/fs_util.h"
#include "support/files.h"

namespace isol8::rootfs {
namespace {

namespace fs = std::filesystem;

struct Entry {
  std::string path;
  mode_t type = AE_IFREG;
  mode_t perm = 0644;
  std::string content;
  std::string symlink;   // target of a symlink
  std::string hardlink;  // target of a hard link
  int64_t uid = 0;
  int64_t gid = 0;
};

Entry file(std::string path, std::string content, mode_t perm = 0644) {
  return Entry{std::move(path), AE_IFREG, perm, std::move(content), "", "", 0, 0};
}
Entry dir(std::string path) { return Entry{std::move(path), AE_IFDIR, 0755, "", "", "", 0, 0}; }
Entry symlink(std::string path, std::string target) {
  return Entry{std::move(path), AE_IFLNK, 0777, "", std::move(target), "", 0, 0};
}
Entry hardlink(std::string path, std::string target) {
  return Entry{std::move(path), AE_IFREG, 0644, "", "", std::move(target), 0, 0};
}

// A ustar/pax archive of `entries`, in memory.
std::string make_tar(const std::vector<Entry>& entries) {
  std::string out(1 << 20, '\0');
  size_t used = 0;
  archive* a = archive_write_new();
  archive_write_set_format_pax_restricted(a);
  archive_write_open_memory(a, out.data(), out.size(), &used);
  for (const auto& e : entries) {
    archive_entry* ae = archive_entry_new();
    archive_entry_set_pathname(ae, e.path.c_str());
    archive_entry_set_filetype(ae, e.type);
    archive_entry_set_perm(ae, e.perm);
    archive_entry_set_uid(ae, e.uid);
    archive_entry_set_gid(ae, e.gid);
    if (!e.symlink.empty()) archive_entry_set_symlink(ae, e.symlink.c_str());
    if (!e.hardlink.empty()) archive_entry_set_hardlink(ae, e.hardlink.c_str());
    if (e.type == AE_IFCHR) archive_entry_set_rdev(ae, makedev(1, 3));
    archive_entry_set_size(ae, e.type == AE_IFREG && e.hardlink.empty() ? e.content.size() : 0);
    archive_write_header(a, ae);
    if (e.type == AE_IFREG && !e.content.empty())
      archive_write_data(a, e.content.data(), e.content.size());
    archive_entry_free(ae);
  }
  archive_write_close(a);
  archive_write_free(a);
  out.resize(used);
  return out;
}

class TarImport : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(tmp_.path().empty());
    fs::create_directories(base_ / "store");
    fs::create_directories(base_ / "outside");
    auto store = RootfsStore::open(base_ / "store", true);
    ASSERT_TRUE(store);
    store_.emplace(std::move(*store));
  }

  Result<StoredRoot> import(const std::string& tar, const std::string& name = "imported",
                            bool force = false) {
    size_t offset = 0;
    TarReader reader = [&](char* buf, size_t size) -> Result<size_t> {
      const size_t n = std::min(size, tar.size() - offset);
      std::memcpy(buf, tar.data() + offset, n);
      offset += n;
      return n;
    };
    ImportOptions opts;
    opts.force = force;
    opts.manifest.name = name;
    opts.manifest.runtime = "bash";
    return import_tar(*store_, reader, opts);
  }

  std::set<std::string> store_entries() const {
    std::set<std::string> out;
    for (const auto& e : fs::directory_iterator(base_ / "store"))
      out.insert(e.path().filename().string());
    return out;
  }
  bool outside_empty() const { return fs::is_empty(base_ / "outside"); }
  std::string outside() const { return (base_ / "outside").string(); }

  // The import failed with a message containing `what`, and left the store as it was.
  void expect_refused(const Result<StoredRoot>& r, const std::string& what) {
    ASSERT_FALSE(r) << "the archive was imported";
    EXPECT_NE(r.error().message.find(what), std::string::npos) << r.error().message;
    EXPECT_EQ(store_entries(), std::set<std::string>({".lock", "logs"}));
    EXPECT_TRUE(outside_empty());
  }

  const test::TempDir tmp_{"isol8-tar-unit"};
  const fs::path base_ = tmp_.path();
  std::optional<RootfsStore> store_;
};

TEST_F(TarImport, ImportsFilesDirsLinksAndAddsTheMountPoints) {
  auto r =
      import(make_tar({dir("./"), dir("./usr/bin"), file("./usr/bin/tool", "#!/bin/sh\n", 0755),
                       symlink("bin", "usr/bin"), symlink("usr/bin/abs", "/usr/bin/tool"),
                       hardlink("usr/bin/tool2", "usr/bin/tool"), file("etc/hostname", "x\n")}));
  ASSERT_TRUE(r) << r.error().message;
  const fs::path root = base_ / "store/imported";
  EXPECT_EQ(r->dir, root);
  EXPECT_EQ(r->manifest.source, "import");
  EXPECT_FALSE(r->manifest.created.empty());
  EXPECT_EQ(*read_file(root / "usr/bin/tool"), "#!/bin/sh\n");
  EXPECT_EQ(fs::read_symlink(root / "bin"), "usr/bin");
  EXPECT_EQ(fs::read_symlink(root / "usr/bin/abs"), "/usr/bin/tool");
  struct stat a, b;
  ASSERT_EQ(::stat((root / "usr/bin/tool").c_str(), &a), 0);
  ASSERT_EQ(::stat((root / "usr/bin/tool2").c_str(), &b), 0);
  EXPECT_EQ(a.st_ino, b.st_ino);
  EXPECT_EQ(a.st_mode & 0777, 0755u);
  for (const char* d : {"proc", "dev", "sandbox", "tmp"}) {
    EXPECT_TRUE(fs::is_directory(root / d)) << d;
  }
  EXPECT_TRUE(store_->find("imported"));
  EXPECT_EQ(store_entries(), std::set<std::string>({".lock", "logs", "imported", "imported.json"}));
}

TEST_F(TarImport, KeepsNumericOwnersAsRoot) {
  if (::geteuid() != 0) GTEST_SKIP() << "keeping owners needs root";
  Entry owned = file("owned", "x");
  owned.uid = 1234;
  owned.gid = 4321;
  auto r = import(make_tar({file("rootfile", "x"), owned}));
  ASSERT_TRUE(r) << r.error().message;
  struct stat st;
  ASSERT_EQ(::stat((r->dir / "owned").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 1234u);
  EXPECT_EQ(st.st_gid, 4321u);
  ASSERT_EQ(::stat((r->dir / "rootfile").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 0u);
}

TEST_F(TarImport, StripsSetuidAndSetgid) {
  auto r = import(make_tar(
      {file("usr/bin/su", "elf", 04755), file("usr/bin/wall", "elf", 02755), dir("shared")}));
  ASSERT_TRUE(r) << r.error().message;
  struct stat st;
  ASSERT_EQ(::stat((r->dir / "usr/bin/su").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0755u);
  ASSERT_EQ(::stat((r->dir / "usr/bin/wall").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0755u);
}

TEST_F(TarImport, RefusesDotDot) {
  expect_refused(import(make_tar({file("ok", "x"), file("../../outside/evil", "x")})), "\"..\"");
  expect_refused(import(make_tar({file("a/../../evil", "x")})), "\"..\"");
}

TEST_F(TarImport, RefusesAbsolutePaths) {
  expect_refused(import(make_tar({file(outside() + "/evil", "x")})), "absolute path");
}

TEST_F(TarImport, RefusesDeviceNodesAndFifos) {
  Entry dev = file("dev/mem", "");
  dev.type = AE_IFCHR;
  expect_refused(import(make_tar({dev})), "character device");
  Entry fifo = file("run/pipe", "");
  fifo.type = AE_IFIFO;
  expect_refused(import(make_tar({fifo})), "fifo");
}

TEST_F(TarImport, RefusesWritingThroughASymlinkedDirectory) {
  expect_refused(import(make_tar({symlink("escape", outside()), file("escape/evil", "x")})),
                 "through the symlink /escape");
  expect_refused(import(make_tar({symlink("rel", "../../outside"), file("rel/evil", "x")})),
                 "through the symlink /rel");
}

TEST_F(TarImport, ReplacesASymlinkInsteadOfWritingThroughIt) {
  { std::ofstream(base_ / "outside/target") << "original"; }
  auto r =
      import(make_tar({symlink("etc-passwd", outside() + "/target"), file("etc-passwd", "mine")}));
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(*read_file(base_ / "outside/target"), "original");
  EXPECT_FALSE(fs::is_symlink(r->dir / "etc-passwd"));
  EXPECT_EQ(*read_file(r->dir / "etc-passwd"), "mine");
}

TEST_F(TarImport, RefusesHardLinksOutOfTheRoot) {
  { std::ofstream(base_ / "outside/secret") << "secret"; }
  // Count what is in "outside" (the secret), so that expect_refused's emptiness check fits.
  auto r = import(make_tar({hardlink("h", "../outside/secret")}));
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("\"..\""), std::string::npos) << r.error().message;
  r = import(make_tar({hardlink("h", outside() + "/secret")}));
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("absolute path"), std::string::npos) << r.error().message;
  r = import(make_tar({symlink("l", outside()), hardlink("h", "l/secret")}));
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("through the symlink /l"), std::string::npos)
      << r.error().message;
  r = import(make_tar({symlink("s", outside() + "/secret"), hardlink("h", "s")}));
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("not a regular file"), std::string::npos) << r.error().message;
  struct stat st;
  ASSERT_EQ(::stat((base_ / "outside/secret").c_str(), &st), 0);
  EXPECT_EQ(st.st_nlink, 1u) << "a hard link to the outside file was created";
  EXPECT_EQ(store_entries(), std::set<std::string>({".lock", "logs"}));
}

TEST_F(TarImport, RefusesMountPointsThatAreNotDirectories) {
  expect_refused(import(make_tar({symlink("tmp", outside())})), "/tmp is not a directory");
  expect_refused(import(make_tar({file("proc", "x")})), "/proc is not a directory");
}

TEST_F(TarImport, RefusesGarbageAndEmptyInput) {
  expect_refused(import(std::string(4096, 'x')), "");
  expect_refused(import(""), "");
}

TEST_F(TarImport, ExistingRootNeedsForceAndIsThenReplacedWhole) {
  ASSERT_TRUE(import(make_tar({file("version", "one")}), "mine"));
  auto again = import(make_tar({file("version", "two")}), "mine");
  ASSERT_FALSE(again);
  EXPECT_NE(again.error().message.find("already exists"), std::string::npos);
  EXPECT_EQ(*read_file(base_ / "store/mine/version"), "one");
  // A refused replacement leaves the old root as it was.
  ASSERT_FALSE(import(make_tar({file("version", "two"), file("../x", "x")}), "mine", true));
  EXPECT_EQ(*read_file(base_ / "store/mine/version"), "one");
  auto forced = import(make_tar({file("version", "two")}), "mine", true);
  ASSERT_TRUE(forced) << forced.error().message;
  EXPECT_EQ(*read_file(base_ / "store/mine/version"), "two");
  EXPECT_EQ(store_entries(), std::set<std::string>({".lock", "logs", "mine", "mine.json"}));
}

TEST_F(TarImport, RefusesBadNames) {
  auto r = import(make_tar({file("x", "x")}), "../evil");
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("Invalid image tag"), std::string::npos);
}

}  // namespace
}  // namespace isol8::rootfs
