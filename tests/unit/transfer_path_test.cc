// The lexical rules of file transfer paths (put_file, get_file, outputPaths); the link rules are
// the backends' and are tested against real sandboxes.
#include <string>

#include <gtest/gtest.h>

#include "core/run_preparation.h"

namespace isol8 {
namespace {

std::string resolved(std::string_view path) {
  auto r = resolve_transfer_path(path);
  EXPECT_TRUE(r) << path << ": " << r.error().message;
  return r ? *r : std::string();
}

std::string refusal(std::string_view path) {
  auto r = resolve_transfer_path(path);
  EXPECT_FALSE(r) << path << " was accepted as " << *r;
  return r ? std::string() : r.error().message;
}

TEST(TransferPath, RelativePathsAreUnderSandbox) {
  EXPECT_EQ(resolved("data.csv"), "/sandbox/data.csv");
  EXPECT_EQ(resolved("out/a.txt"), "/sandbox/out/a.txt");
  EXPECT_EQ(resolved("./x"), "/sandbox/x");
}

TEST(TransferPath, AbsolutePathsInSandboxAndTmpAreNormalised) {
  EXPECT_EQ(resolved("/sandbox/a"), "/sandbox/a");
  EXPECT_EQ(resolved("/tmp//b/./c/"), "/tmp/b/c");
}

TEST(TransferPath, AnyDotDotComponentIsRefused) {
  EXPECT_EQ(refusal("/sandbox/../etc/passwd"),
            "File path must not contain \"..\": /sandbox/../etc/passwd");
  // Even one that would stay inside: a path that climbs is never resolved.
  EXPECT_NE(refusal("/sandbox/a/../b"), "");
  EXPECT_NE(refusal(".."), "");
  // A name that only starts with two dots is an ordinary name.
  EXPECT_EQ(resolved("/sandbox/..hidden"), "/sandbox/..hidden");
}

TEST(TransferPath, PathsOutsideSandboxAndTmpAreRefused) {
  for (const char* path : {"/etc/passwd", "/proc/1/root", "/sandbox", "/tmp", "/", "/sandboxx/a",
                           "/tmpfoo", "/usr/bin/python3"}) {
    EXPECT_EQ(refusal(path), std::string("File path must be inside /sandbox or /tmp: ") + path);
  }
}

TEST(TransferPath, EmptyAndNulAreRefused) {
  EXPECT_EQ(refusal(""), "File path is empty");
  EXPECT_EQ(refusal(std::string_view("/sandbox/a\0b", 12)), "File path contains a NUL byte");
}

}  // namespace
}  // namespace isol8
