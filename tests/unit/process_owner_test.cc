// Owner labels of resources that outlive a SIGKILLed runner (common/process_owner.h): the format,
// the parsing of /proc/<pid>/stat, and the decision to reclaim, which must keep everything it
// cannot prove dead.
#include "common/process_owner.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <map>

namespace isol8 {
namespace {

const ProcessOwner kSelf{"6f1c2d4e-0000-4000-8000-1234567890ab", 4026531836, 1000, 55555};

std::string label(std::string boot, uint64_t ns, pid_t pid, uint64_t start) {
  return format_owner(ProcessOwner{std::move(boot), ns, pid, start});
}

// A probe that answers from a fixed table, as /proc would.
ProcessProbe probe_with(std::map<pid_t, ProcessState> table) {
  return [table](pid_t pid) {
    const auto it = table.find(pid);
    return it == table.end() ? ProcessState{} : it->second;
  };
}

TEST(ProcessOwner, FormatParsesBack) {
  const std::string text = format_owner(kSelf);
  EXPECT_EQ(text, "6f1c2d4e-0000-4000-8000-1234567890ab/4026531836/1000/55555");
  EXPECT_EQ(parse_owner(text), kSelf);
}

TEST(ProcessOwner, MalformedLabelsDoNotParse) {
  for (const char* bad :
       {"", "x", "boot/1/2", "boot/1/2/3/4", "/1/2/3", "boot/1/0/3", "boot/1/-2/3", "boot/1/2/x",
        "boot/1/2/", "boot/ 1/2/3", "boot/1/99999999999/3"}) {
    EXPECT_EQ(parse_owner(bad), std::nullopt) << bad;
  }
}

TEST(ProcessOwner, StartTimeIsField22EvenWithParenthesesInTheName) {
  const std::string stat =
      "4242 (we ird) (name) S 1 4242 4242 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 "
      "1000000 200 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n";
  EXPECT_EQ(parse_stat_start_time(stat), 987654u);
  EXPECT_EQ(parse_stat_start_time("4242 (x) S 1 2 3"), std::nullopt);
  EXPECT_EQ(parse_stat_start_time("no parenthesis"), std::nullopt);
}

TEST(ProcessOwner, CurrentOwnerIsThisProcess) {
  auto self = current_owner();
  ASSERT_TRUE(self) << self.error().message;
  EXPECT_EQ(self->pid, ::getpid());
  struct stat ns;
  ASSERT_EQ(::stat("/proc/self/ns/pid", &ns), 0);
  EXPECT_EQ(self->pid_ns, ns.st_ino);
  std::ifstream boot("/proc/sys/kernel/random/boot_id");
  std::string boot_id;
  boot >> boot_id;
  EXPECT_EQ(self->boot_id, boot_id);
  const ProcessState me = probe_process(::getpid());
  EXPECT_TRUE(me.exists);
  EXPECT_EQ(me.start_time, self->start_time);
  EXPECT_FALSE(owner_is_dead(format_owner(*self), *self));
}

TEST(ProcessOwner, OnlyAProvablyDeadOwnerOfThisBootAndNamespaceIsDead) {
  const auto probe = probe_with({{2000, {true, 777}}, {3000, {true, std::nullopt}}});
  // Live: the pid exists with the recorded start time, or its start time cannot be read.
  EXPECT_FALSE(owner_is_dead(label(kSelf.boot_id, kSelf.pid_ns, 2000, 777), kSelf, probe));
  EXPECT_FALSE(owner_is_dead(label(kSelf.boot_id, kSelf.pid_ns, 3000, 1), kSelf, probe));
  // Ourselves.
  EXPECT_FALSE(owner_is_dead(format_owner(kSelf), kSelf, probe));
  // Dead: no such pid, or the pid is another process now (reused), even our own pid.
  EXPECT_TRUE(owner_is_dead(label(kSelf.boot_id, kSelf.pid_ns, 4000, 777), kSelf, probe));
  EXPECT_TRUE(owner_is_dead(label(kSelf.boot_id, kSelf.pid_ns, 2000, 776), kSelf, probe));
  EXPECT_TRUE(owner_is_dead(label(kSelf.boot_id, kSelf.pid_ns, kSelf.pid, 1), kSelf, probe));
  // Another boot (a daemon shared over tcp://, or a reboot) or pid namespace: not ours to judge.
  EXPECT_FALSE(owner_is_dead(label("other-boot", kSelf.pid_ns, 4000, 777), kSelf, probe));
  EXPECT_FALSE(owner_is_dead(label(kSelf.boot_id, kSelf.pid_ns + 1, 4000, 777), kSelf, probe));
  // No label, or a malformed one.
  EXPECT_FALSE(owner_is_dead("", kSelf, probe));
  EXPECT_FALSE(owner_is_dead(kSelf.boot_id + "/4026531836/4000", kSelf, probe));
  EXPECT_FALSE(owner_is_dead("garbage", kSelf, probe));
}

TEST(ProcessOwner, AReapedChildIsDead) {
  auto self = current_owner();
  ASSERT_TRUE(self) << self.error().message;
  const pid_t child = ::fork();
  if (child == 0) {
    ::pause();
    ::_exit(0);
  }
  const ProcessState running = probe_process(child);
  ASSERT_TRUE(running.exists);
  ASSERT_TRUE(running.start_time);
  const std::string child_label =
      format_owner(ProcessOwner{self->boot_id, self->pid_ns, child, *running.start_time});
  EXPECT_FALSE(owner_is_dead(child_label, *self));
  ::kill(child, SIGKILL);
  ::waitpid(child, nullptr, 0);
  EXPECT_TRUE(owner_is_dead(child_label, *self));
}

}  // namespace
}  // namespace isol8
