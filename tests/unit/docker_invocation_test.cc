#include "backends/docker/invocation.h"

#include <archive.h>
#include <archive_entry.h>
#include <gtest/gtest.h>

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <map>

extern char** environ;

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
  // An image without the backstop label, or no time limit: nothing but the program.
  auto direct = plan_invocation(s, "M");
  ASSERT_TRUE(direct);
  EXPECT_EQ(direct->cmd, (std::vector<std::string>{"python3", "-c", "pass"}));
  s.timeout = std::chrono::milliseconds(0);
  auto inv = plan_invocation(s, "M", false, /*backstop=*/true);
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
  auto inv = plan_invocation(s, "MARK", false, /*backstop=*/true);
  ASSERT_TRUE(inv) << inv.error().message;
  ASSERT_GE(inv->cmd.size(), 12u);
  EXPECT_EQ(inv->cmd[0], "/bin/bash");
  const size_t n = std::stoul(inv->cmd[4]);
  EXPECT_EQ(inv->cmd[5], "1");
  EXPECT_EQ(inv->cmd[6], "MARK");
  EXPECT_EQ(inv->cmd[7], "/sandbox/a");
  EXPECT_EQ(inv->cmd[8], "0");
  EXPECT_EQ(inv->cmd[9], "0");
  EXPECT_EQ(inv->cmd[10], "70");  // backstop: setup 30 s + program 30 s + 10 s
  EXPECT_EQ(inv->cmd[11], "python3");
  ASSERT_EQ(inv->stdin_payload.size(), n + s.stdin_data.size());
  EXPECT_EQ(inv->stdin_payload.substr(n), "user stdin");
  auto files = untar(inv->stdin_payload.substr(0, n));
  EXPECT_EQ(files["sandbox/main.py"], "print(1)\n");
  EXPECT_EQ(files["sandbox/a/b/data.bin"], std::string("\0\1\2", 3));
  EXPECT_EQ(files["tmp/t.txt"], "t");
  EXPECT_EQ(files["tmp/.isol8-setup.sh"], "echo setup");
}

TEST(DockerInvocation, FilesKeepTheirPermissionBits) {
  auto tar = make_tar({CodeFile{"/sandbox/run.sh", "#!/bin/sh\n", 0755},
                       CodeFile{"/sandbox/data.txt", "d"}, CodeFile{"/sandbox/s", "s", 04700}});
  ASSERT_TRUE(tar) << tar.error().message;
  std::map<std::string, unsigned> perms;
  archive* a = archive_read_new();
  archive_read_support_format_tar(a);
  ASSERT_EQ(archive_read_open_memory(a, tar->data(), tar->size()), ARCHIVE_OK);
  archive_entry* e = nullptr;
  while (archive_read_next_header(a, &e) == ARCHIVE_OK) {
    perms[archive_entry_pathname(e)] = archive_entry_perm(e);
  }
  archive_read_free(a);
  EXPECT_EQ(perms, (std::map<std::string, unsigned>{
                       {"sandbox/run.sh", 0755}, {"sandbox/data.txt", 0644}, {"sandbox/s", 0700}}));
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
  ASSERT_GE(inv->cmd.size(), 12u);
  EXPECT_EQ(inv->cmd[0], "/bin/bash");
  EXPECT_EQ(inv->cmd[9], "1");
  EXPECT_EQ(inv->cmd[11], "python3");
  EXPECT_NE(inv->cmd[2].find("/.isol8/relay 8118 /.isol8/proxy.sock"), std::string::npos);
}

TEST(DockerInvocation, EveryTimedRunInABackstopImageGoesThroughTheBootstrap) {
  RunSpec s = spec();
  s.argv = {"/usr/bin/python3", "-c", "pass"};
  auto inv = plan_invocation(s, "M", false, /*backstop=*/true);
  ASSERT_TRUE(inv);
  ASSERT_EQ(inv->cmd.size(), 14u);
  EXPECT_EQ(inv->cmd[0], "/bin/bash");
  EXPECT_EQ(inv->cmd[10], "40");
  EXPECT_EQ(std::vector<std::string>(inv->cmd.begin() + 11, inv->cmd.end()),
            (std::vector<std::string>{"python3", "-c", "pass"}));
  EXPECT_EQ(inv->stdin_payload, "user stdin");
}

TEST(DockerInvocation, BackstopIsTheTimeLimitsPlusTheGraceInWholeSeconds) {
  RunSpec s = spec();
  s.timeout = std::chrono::milliseconds(1500);
  EXPECT_EQ(backstop_seconds(s), 12);  // ceil(1.5 + 10)
  s.setup_script = "true";
  EXPECT_EQ(backstop_seconds(s), 13);  // ceil(2 * 1.5 + 10)
  s.timeout = std::chrono::milliseconds(0);
  EXPECT_EQ(backstop_seconds(s), 0);
}

// The bootstrap itself, run by the host's bash: the backstop kills a program that outlives it,
// and neither delays nor changes the status of one that ends first (it holds no output open).
struct BootstrapRun {
  pid_t pid = -1;
  int status = -1;
  double seconds = 0;
  std::string out;
};

BootstrapRun run_bootstrap(const std::string& backstop, const std::vector<std::string>& program) {
  std::vector<std::string> storage = {"/bin/bash", "-c", kBootstrap, "isol8-bootstrap",
                                      "0",         "0",  "-",        ::testing::TempDir(),
                                      "0",         "0",  backstop};
  storage.insert(storage.end(), program.begin(), program.end());
  std::vector<char*> argv;
  for (auto& a : storage) argv.push_back(a.data());
  argv.push_back(nullptr);
  int out[2];
  EXPECT_EQ(::pipe2(out, O_CLOEXEC), 0);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&fa, out[1], 1);
  // A process group of its own, so that the watcher, which outside a container outlives the
  // program, can be killed afterwards (in a container it dies with the container).
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
  posix_spawnattr_setpgroup(&attr, 0);
  const auto start = std::chrono::steady_clock::now();
  pid_t pid = -1;
  EXPECT_EQ(::posix_spawn(&pid, "/bin/bash", &fa, &attr, argv.data(), environ), 0);
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  ::close(out[1]);
  BootstrapRun r;
  r.pid = pid;
  char buf[256];
  ssize_t n;
  while ((n = ::read(out[0], buf, sizeof buf)) > 0) r.out.append(buf, static_cast<size_t>(n));
  ::close(out[0]);
  ::waitpid(pid, &r.status, 0);
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ::kill(-pid, SIGKILL);
  return r;
}

TEST(DockerBootstrap, BackstopKillsAProgramNobodyKilled) {
  const auto r = run_bootstrap("1", {"bash", "-c", "echo started; exec sleep 30"});
  ASSERT_TRUE(WIFSIGNALED(r.status)) << r.status;
  EXPECT_EQ(WTERMSIG(r.status), SIGKILL);
  EXPECT_EQ(r.out, "started\n");
  EXPECT_GE(r.seconds, 0.9);
  EXPECT_LT(r.seconds, 10.0);
}

TEST(DockerBootstrap, BackstopLeavesAProgramThatEndsFirstAlone) {
  // The program is the bootstrap's own process (exec): its status is the run's.
  const auto r = run_bootstrap("30", {"bash", "-c", "echo $$; exit 3"});
  ASSERT_TRUE(WIFEXITED(r.status)) << r.status;
  EXPECT_EQ(WEXITSTATUS(r.status), 3);
  EXPECT_EQ(r.out, std::to_string(r.pid) + "\n");
  EXPECT_LT(r.seconds, 10.0) << "the watcher held the output open";
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
