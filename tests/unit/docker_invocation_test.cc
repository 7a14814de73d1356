#include "backends/docker/invocation.h"

#include <archive.h>
#include <archive_entry.h>
#include <gtest/gtest.h>

#include <map>

namespace isol8::docker {
namespace {

std::map<std::string, std::string> untar(const std::string& tar) {
  std::map<std::string, std::string> out;
  archive* a = archive_read_new();
  archive_read_support_format_tar(a);
  EXPECT_EQ(archive_read_open_memory(a, tar.data(), tar.size()), ARCHIVE_OK);
  archive_entry* e = nullptr;
  while (archive_read_next_header(a, &e) == ARCHIVE_OK) {
    std::string data(static_cast<size_t>(archive_entry_size(e)), '\0');
    if (!data.empty()) archive_read_data(a, data.data(), data.size());
    out[archive_entry_pathname(e)] = data;
  }
  archive_read_free(a);
  return out;
}

RunSpec spec() {
  RunSpec s;
  s.argv = {"/usr/bin/python3", "/sandbox/main.py"};
  s.stdin_data = "user stdin";
  return s;
}

TEST(DockerInvocation, PlainRunStartsTheProgramDirectly) {
  RunSpec s = spec();
  s.argv = {"/usr/bin/python3", "-c", "pass"};
  auto inv = plan_invocation(s, "M");
  ASSERT_TRUE(inv);
  EXPECT_EQ(inv->cmd, (std::vector<std::string>{"python3", "-c", "pass"}));
  EXPECT_EQ(inv->stdin_payload, "user stdin");
  EXPECT_FALSE(inv->has_setup);
}

TEST(DockerInvocation, FilesTravelAsATarPrefixOfExactLength) {
  RunSpec s = spec();
  s.code_file = CodeFile{"/sandbox/main.py", "print(1)\n"};
  s.files = {{"/sandbox/a/b/data.bin", std::string("\0\1\2", 3)}, {"/tmp/t.txt", "t"}};
  s.setup_script = "echo setup";
  s.workdir = "/sandbox/a";
  auto inv = plan_invocation(s, "MARK");
  ASSERT_TRUE(inv) << inv.error().message;
  ASSERT_GE(inv->cmd.size(), 10u);
  EXPECT_EQ(inv->cmd[0], "/bin/bash");
  const size_t n = std::stoul(inv->cmd[4]);
  EXPECT_EQ(inv->cmd[5], "1");
  EXPECT_EQ(inv->cmd[6], "MARK");
  EXPECT_EQ(inv->cmd[7], "/sandbox/a");
  EXPECT_EQ(inv->cmd[8], "0");
  EXPECT_EQ(inv->cmd[9], "0");
  EXPECT_EQ(inv->cmd[10], "python3");
  ASSERT_EQ(inv->stdin_payload.size(), n + s.stdin_data.size());
  EXPECT_EQ(inv->stdin_payload.substr(n), "user stdin");
  auto files = untar(inv->stdin_payload.substr(0, n));
  EXPECT_EQ(files["sandbox/main.py"], "print(1)\n");
  EXPECT_EQ(files["sandbox/a/b/data.bin"], std::string("\0\1\2", 3));
  EXPECT_EQ(files["tmp/t.txt"], "t");
  EXPECT_EQ(files["tmp/.isol8-setup.sh"], "echo setup");
}

TEST(DockerInvocation, PooledRunsAlwaysUseTheReapingBootstrap) {
  RunSpec s = spec();
  s.argv = {"/bin/bash", "-c", "true"};
  auto inv = plan_invocation(s, "M", true);
  ASSERT_TRUE(inv);
  EXPECT_EQ(inv->cmd[0], "/bin/bash");
  EXPECT_EQ(inv->cmd[4], "0");
  EXPECT_EQ(inv->cmd[8], "1");
  EXPECT_EQ(inv->cmd[9], "0");
}

TEST(DockerInvocation, FilteredRunsStartTheRelayInTheBootstrap) {
  RunSpec s = spec();
  s.argv = {"/usr/bin/python3", "-c", "print(1)"};
  s.network = NetworkMode::kFiltered;
  auto inv = plan_invocation(s, "M");
  ASSERT_TRUE(inv);
  ASSERT_GE(inv->cmd.size(), 11u);
  EXPECT_EQ(inv->cmd[0], "/bin/bash");
  EXPECT_EQ(inv->cmd[9], "1");
  EXPECT_EQ(inv->cmd[10], "python3");
  EXPECT_NE(inv->cmd[2].find("/.isol8/relay 8118 /.isol8/proxy.sock"), std::string::npos);
}

TEST(DockerInvocation, RejectsPathsOutsideTheWritableAreas) {
  for (const char* bad : {"/etc/passwd", "/sandbox/../etc/x", "/sandbox//x", "/sandbox/./x",
                          "relative", "/sandboxx/y"}) {
    RunSpec s = spec();
    s.files = {{bad, "x"}};
    auto inv = plan_invocation(s, "M");
    ASSERT_FALSE(inv) << bad;
    EXPECT_NE(inv.error().message.find("Invalid file path"), std::string::npos);
  }
}

TEST(DockerSetupMarker, RemovesTheMarkerAndReportsTheCode) {
  SetupMarkerScanner sc("MK");
  auto p = sc.feed("setup out\nMK:3\ncode out");
  EXPECT_EQ(p.before, "setup out");
  ASSERT_TRUE(p.exit);
  EXPECT_EQ(*p.exit, 3);
  EXPECT_EQ(p.after, "code out");
  auto q = sc.feed("\nMK:0\n");  // after the marker, everything is code output
  EXPECT_EQ(q.after, "\nMK:0\n");
}

TEST(DockerSetupMarker, MarkerSplitAcrossReads) {
  const std::string all = "abc\ndef\nMK:12\nrest";
  for (size_t cut = 0; cut <= all.size(); ++cut) {
    SetupMarkerScanner sc("MK");
    std::string before;
    std::string after;
    std::optional<int> code;
    for (auto part : {all.substr(0, cut), all.substr(cut)}) {
      auto p = sc.feed(part);
      before += p.before;
      after += p.after;
      if (p.exit) code = p.exit;
    }
    if (!code) before += sc.finish();
    EXPECT_EQ(before, "abc\ndef") << cut;
    ASSERT_TRUE(code) << cut;
    EXPECT_EQ(*code, 12);
    EXPECT_EQ(after, "rest");
  }
}

TEST(DockerSetupMarker, NoMarkerMeansEverythingPassesThrough) {
  SetupMarkerScanner sc("MK");
  std::string got;
  got += sc.feed("line\nM").before;
  got += sc.feed("X:1\nmore\n").before;
  got += sc.finish();
  EXPECT_EQ(got, "line\nMX:1\nmore\n");
  EXPECT_FALSE(sc.seen());
}

}  // namespace
}  // namespace isol8::docker
