// File transfer into and out of a persistent session (Engine::put_file / get_file), on every
// backend: binary-safe round trips, ownership, parents made by the sandbox user, and the path
// attacks (climbing paths, links planted by earlier executions pointing out of /sandbox and /tmp
// or at /proc/1/root, FIFOs, directories), each refused with an error and without hanging.

#include <random>

#include "session_fixture.h"

namespace isol8::test {
namespace {

class SessionFiles : public SessionTest {};

std::string random_bytes(size_t n) {
  std::mt19937_64 rng(12345);
  std::string out(n, '\0');
  for (auto& c : out) c = static_cast<char>(rng() & 0xff);
  return out;
}

TEST_P(SessionFiles, RoundTripsAreBinarySafe) {
  START_SESSION(engine, persistent());
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"/sandbox/empty", ""},
      {"/sandbox/one", "x"},
      {"/tmp/nul", std::string("a\0b\0\0c\xff\xfe\n", 9)},
      {"/sandbox/big.bin", random_bytes(5 << 20)},
  };
  for (const auto& [path, content] : cases) {
    auto put = engine->put_file(path, content);
    ASSERT_TRUE(put) << path << ": " << put.error().message;
    auto got = engine->get_file(path);
    ASSERT_TRUE(got) << path << ": " << got.error().message;
    EXPECT_EQ(got->size(), content.size()) << path;
    EXPECT_TRUE(*got == content) << path << " came back different";
  }
  // The sandbox sees the same bytes, in a file of the sandbox user with mode 0644.
  auto seen = must_run(*engine, bash_request("stat -c '%u %a %s' /sandbox/big.bin /sandbox/empty; "
                                             "od -An -c /tmp/nul | tr -s ' '"));
  EXPECT_EQ(seen.stdout_data, "100 644 5242880\n100 644 0\n a \\0 b \\0 \\0 c 377 376 \\n")
      << describe(seen);
}

TEST_P(SessionFiles, OverwritesAndCreatesParentsAsTheSandboxUser) {
  START_SESSION(engine, persistent());
  ASSERT_TRUE(engine->put_file("/sandbox/a/b/c.txt", "first"));
  ASSERT_TRUE(engine->put_file("/sandbox/a/b/c.txt", "second"));
  ASSERT_TRUE(engine->put_file("rel/d.txt", "relative"));  // relative to /sandbox
  auto seen =
      must_run(*engine, bash_request("stat -c '%u %F' /sandbox/a /sandbox/a/b; "
                                     "cat /sandbox/a/b/c.txt; echo; cat /sandbox/rel/d.txt"));
  EXPECT_EQ(seen.stdout_data, "100 directory\n100 directory\nsecond\nrelative") << describe(seen);
  auto got = engine->get_file("/sandbox/a/b/c.txt");
  ASSERT_TRUE(got) << got.error().message;
  EXPECT_EQ(*got, "second");
}

TEST_P(SessionFiles, AMissingFileIsAnError) {
  START_SESSION(engine, persistent());
  auto got = engine->get_file("/sandbox/nope");
  ASSERT_FALSE(got);
  EXPECT_TRUE(contains(got.error().message, "/sandbox/nope")) << got.error().message;
}

TEST_P(SessionFiles, PathsOutsideSandboxAndTmpAreRefused) {
  START_SESSION(engine, persistent());
  for (const char* path : {"/etc/passwd", "../etc/passwd", "/sandbox/../etc/passwd",
                           "/tmp/../etc/shadow", "/proc/1/environ", "/sandbox/a/../../etc/x"}) {
    auto put = engine->put_file(path, "x");
    EXPECT_FALSE(put) << path;
    auto got = engine->get_file(path);
    EXPECT_FALSE(got) << path << " was read: " << (got ? *got : "");
  }
}

// Links and special files an earlier (untrusted) execution left behind.
TEST_P(SessionFiles, PlantedLinksAndSpecialFilesAreRefused) {
  START_SESSION(engine, persistent());
  auto plant = must_run(
      *engine, bash_request("ln -s /etc /sandbox/etc_link; ln -s /etc/hostname /sandbox/host_file; "
                            "ln -s /proc/1/root /sandbox/init_root; ln -s ../../etc /tmp/up; "
                            "ln -s /proc/self/root /tmp/self_root; mkfifo /sandbox/fifo; "
                            "mkdir /sandbox/dir; ln -s /sandbox/nowhere /sandbox/dangling"));
  ASSERT_EQ(plant.exit_code, 0) << describe(plant);
  const std::vector<std::string> reads = {
      "/sandbox/etc_link/hostname",
      "/sandbox/host_file",
      "/sandbox/init_root/etc/hostname",
      "/tmp/up/hostname",
      "/tmp/self_root/etc/hostname",
      "/sandbox/fifo",
      "/sandbox/dir",
      "/sandbox/dangling",
  };
  for (const auto& path : reads) {
    auto got = engine->get_file(path);
    EXPECT_FALSE(got) << path << " was read: " << (got ? got->substr(0, 64) : "");
    if (!got) {
      EXPECT_FALSE(got.error().message.empty());
    }
  }
  const std::vector<std::string> writes = {
      "/sandbox/etc_link/isol8-test",
      "/sandbox/host_file",
      "/sandbox/init_root/tmp/x",
      "/tmp/up/isol8-test",
      "/tmp/self_root/tmp/x",
      "/sandbox/fifo",
      "/sandbox/dir",
      "/sandbox/dangling",
  };
  for (const auto& path : writes) {
    auto put = engine->put_file(path, "planted");
    EXPECT_FALSE(put) << path << " was written";
  }
  // Nothing was written through a link: the links, the FIFO and the directory are as they were.
  auto after =
      must_run(*engine, bash_request("ls /sandbox/nowhere 2>/dev/null; stat -c '%F' /sandbox/fifo "
                                     "/sandbox/dir /sandbox/host_file; ls -A /sandbox/dir"));
  EXPECT_EQ(after.stdout_data, "fifo\ndirectory\nsymbolic link") << describe(after);
}

ISOL8_BACKEND_SUITE(SessionFiles);

}  // namespace
}  // namespace isol8::test
