// Network namespaces made ahead for `--net none` runs (network/netns_slot.h), on this machine's
// kernel: what a slot holds, that a namespace serves one claim and never a second, and what a
// holder that dies before its refill leaves. Each test has a slot directory of its own, so that
// the CLI runs of other tests, which use the default one, never meet these slots.

#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/nsfs.h>
#include <net/if.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <set>
#include <stdexcept>
#include <thread>

#include "common/fs_util.h"
#include "network/netns_slot.h"
#include "support/files.h"

namespace isol8 {
namespace {

namespace fs = std::filesystem;

uint64_t inode_of(int fd) {
  struct stat st {};
  return ::fstat(fd, &st) == 0 ? static_cast<uint64_t>(st.st_ino) : 0;
}

// The network namespace mounted at `point` (an empty fd when none is).
UniqueFd mounted_netns(const fs::path& point) {
  UniqueFd fd(::open(point.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd || ::ioctl(fd.get(), NS_GET_NSTYPE) != CLONE_NEWNET) return UniqueFd();
  return fd;
}

// What a thread entering `netns` sees: its interfaces, and whether loopback is up.
struct Inside {
  std::set<std::string> interfaces;
  bool loopback_up = false;
  std::string error;
};

Inside look_inside(int netns) {
  Inside seen;
  std::thread([&] {
    if (::setns(netns, CLONE_NEWNET) != 0) {
      seen.error = std::string("setns: ") + std::strerror(errno);
      return;
    }
    if (struct if_nameindex* names = ::if_nameindex()) {
      for (auto* n = names; n->if_index != 0; ++n) seen.interfaces.insert(n->if_name);
      ::if_freenameindex(names);
    }
    UniqueFd sock(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    struct ifreq ifr {};
    std::strncpy(ifr.ifr_name, "lo", IFNAMSIZ - 1);
    seen.loopback_up =
        sock && ::ioctl(sock.get(), SIOCGIFFLAGS, &ifr) == 0 && (ifr.ifr_flags & IFF_UP) != 0;
  }).join();  // the thread ends inside the namespace; this one never enters it
  return seen;
}

class NetnsSlotLive : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "namespaces made ahead are made as root only";
  }
  void TearDown() override {
    if (::geteuid() != 0) return;
    auto removed = NetnsSlot::remove_idle(dir());
    EXPECT_TRUE(removed) << removed.error().message;
  }

  fs::path dir() const { return fs::path(temp_.path()) / "netns"; }
  fs::path point(int index) const { return dir() / ("slot-" + std::to_string(index)); }
  std::string record(int index) const {
    auto text = read_file(dir() / ("slot-" + std::to_string(index) + ".lock"));
    return text ? trim_trailing_space(*text) : "";
  }

  // (Throws, which fails the test, when there is no slot to claim.)
  NetnsSlot claim(uint32_t count = 2) {
    auto claimed = NetnsSlot::claim(dir(), count);
    if (!claimed) throw std::runtime_error("claim: " + claimed.error().message);
    if (!*claimed) throw std::runtime_error("claim: every slot is held");
    return std::move(**claimed);
  }

  // Slot 0 with a namespace made ahead, as the first run on a host leaves it.
  void fill_slot_zero() {
    NetnsSlot first = claim();
    ASSERT_EQ(first.index(), 0u);
    EXPECT_LT(first.prepared(), 0) << "a new slot cannot hold a namespace";
    first.refill_in_background();
  }

  test::TempDir temp_{"isol8-native-netns"};
};

TEST_F(NetnsSlotLive, ARefillLeavesALoopbackOnlyNamespaceThatTheRecordVouchesFor) {
  fill_slot_zero();
  UniqueFd made = mounted_netns(point(0));
  ASSERT_TRUE(made) << "nothing is mounted at " << point(0);
  EXPECT_TRUE(record(0).starts_with("fresh " + std::to_string(inode_of(made.get())) + " "))
      << record(0);
  const Inside seen = look_inside(made.get());
  EXPECT_TRUE(seen.error.empty()) << seen.error;
  EXPECT_EQ(seen.interfaces, std::set<std::string>{"lo"});
  EXPECT_TRUE(seen.loopback_up);
}

TEST_F(NetnsSlotLive, AClaimTakesTheNamespaceAloneAndTheNextClaimGetsAnother) {
  fill_slot_zero();
  UniqueFd made = mounted_netns(point(0));
  ASSERT_TRUE(made);
  UniqueFd taken_copy;
  {
    NetnsSlot taker = claim();
    ASSERT_GE(taker.prepared(), 0) << "the namespace made ahead was not taken";
    EXPECT_EQ(inode_of(taker.prepared()), inode_of(made.get()));
    EXPECT_EQ(record(0), "used") << "taken, but still vouched for";
    // While it is held, another runner gets the next slot, which has nothing yet.
    NetnsSlot other = claim();
    EXPECT_EQ(other.index(), 1u);
    EXPECT_LT(other.prepared(), 0);
    taken_copy.reset(::dup(taker.prepared()));  // keeps its inode from being reused
    taker.refill_in_background();
  }
  UniqueFd next = mounted_netns(point(0));
  ASSERT_TRUE(next) << "the refill mounted nothing";
  EXPECT_NE(inode_of(next.get()), inode_of(taken_copy.get())) << "the used namespace came back";
  NetnsSlot second = claim();
  ASSERT_GE(second.prepared(), 0);
  EXPECT_EQ(inode_of(second.prepared()), inode_of(next.get()));
}

TEST_F(NetnsSlotLive, AHolderKilledBeforeItsRefillLeavesNothingToReuse) {
  fill_slot_zero();
  UniqueFd before = mounted_netns(point(0));
  ASSERT_TRUE(before);
  // A runner killed between taking the namespace and refilling the slot: a child that takes it
  // and ends without running any destructor.
  const pid_t runner = ::fork();
  if (runner == 0) {
    auto claimed = NetnsSlot::claim(dir(), 2);
    const bool took = claimed && *claimed && (*claimed)->prepared() >= 0;
    ::_exit(took ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(runner, &status, 0), runner);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "the child took nothing";
  UniqueFd still = mounted_netns(point(0));
  ASSERT_TRUE(still);
  EXPECT_EQ(inode_of(still.get()), inode_of(before.get()));
  NetnsSlot next = claim();
  EXPECT_EQ(next.index(), 0u);
  EXPECT_LT(next.prepared(), 0) << "a namespace a run may have used was handed out again";
}

TEST_F(NetnsSlotLive, AHolderThatFailsBeforeItsRefillStillRefills) {
  fill_slot_zero();
  uint64_t used = 0;
  UniqueFd used_copy;
  {
    NetnsSlot taker = claim();
    ASSERT_GE(taker.prepared(), 0);
    used = inode_of(taker.prepared());
    used_copy.reset(::dup(taker.prepared()));  // keeps its inode from being reused
    // An error before the sandbox started: the slot goes without refill_in_background().
  }
  UniqueFd next = mounted_netns(point(0));
  ASSERT_TRUE(next) << "the slot was left without a namespace";
  EXPECT_NE(inode_of(next.get()), used);
  EXPECT_TRUE(record(0).starts_with("fresh ")) << record(0);
}

TEST_F(NetnsSlotLive, TheRunnersOwnThreadStaysInItsNamespace) {
  const std::string before = fs::read_symlink("/proc/thread-self/ns/net").string();
  {
    NetnsSlot first = claim();
    first.refill_in_background();
  }
  {
    NetnsSlot second = claim();
    ASSERT_GE(second.prepared(), 0);
    second.refill_in_background();
  }
  EXPECT_EQ(fs::read_symlink("/proc/thread-self/ns/net").string(), before);
}

TEST_F(NetnsSlotLive, ARecordForAnotherNamespaceIsNotBelieved) {
  fill_slot_zero();
  UniqueFd made = mounted_netns(point(0));
  ASSERT_TRUE(made);
  // What a record says once a slot's mount was replaced behind it (another mount namespace
  // sharing the directory): the namespace there is not the one vouched for.
  std::string forged = record(0);
  const std::string vouched = std::to_string(inode_of(made.get()));
  forged.replace(forged.find(vouched), vouched.size(), std::string(vouched.size(), '1'));
  forged.resize(63, ' ');
  ASSERT_TRUE(write_file(dir() / "slot-0.lock", forged + "\n"));
  NetnsSlot next = claim();
  EXPECT_LT(next.prepared(), 0) << "a namespace the record does not name was handed out";
}

TEST_F(NetnsSlotLive, CleanupUnmountsTheIdleSlotsOnly) {
  {
    NetnsSlot a = claim();
    NetnsSlot b = claim();
    a.refill_in_background();
    b.refill_in_background();
  }
  ASSERT_TRUE(mounted_netns(point(0)) && mounted_netns(point(1)));
  {
    NetnsSlot held = claim();  // slot 0, taken, its mount still there until a refill
    auto removed = NetnsSlot::remove_idle(dir());
    ASSERT_TRUE(removed) << removed.error().message;
    EXPECT_EQ(*removed, 1u);
    EXPECT_FALSE(mounted_netns(point(1)));
    EXPECT_TRUE(mounted_netns(point(0))) << "cleanup went through a held slot";
  }
  auto removed = NetnsSlot::remove_idle(dir());
  ASSERT_TRUE(removed) << removed.error().message;
  EXPECT_EQ(*removed, 1u);
  EXPECT_FALSE(mounted_netns(point(0)));
  NetnsSlot after = claim();
  EXPECT_LT(after.prepared(), 0) << "a slot cleanup emptied still handed out a namespace";
}

}  // namespace
}  // namespace isol8
