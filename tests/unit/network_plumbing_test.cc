// The filtered mode's pure pieces: the address pool, the firewall ruleset text, slot locks.

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <set>

#include "netfilter/sandbox_table.h"
#include "network/address_pool.h"
#include "network/slot_lock.h"

namespace isol8 {
namespace {

TEST(AddressPool, CarvesSlash30s) {
  auto pool = AddressPool::parse("10.231.0.0/16");
  ASSERT_TRUE(pool) << pool.error().message;
  EXPECT_EQ(pool->slot_count(), 16384u);
  EXPECT_EQ(format_ipv4(pool->addresses(0).host), "10.231.0.1");
  EXPECT_EQ(format_ipv4(pool->addresses(0).sandbox), "10.231.0.2");
  EXPECT_EQ(format_ipv4(pool->addresses(1).host), "10.231.0.5");
  EXPECT_EQ(format_ipv4(pool->addresses(16383).sandbox), "10.231.255.254");
  EXPECT_EQ(pool->cidr(), "10.231.0.0/16");
}

TEST(AddressPool, RejectsBadInput) {
  for (const char* bad : {"10.231.0.0", "10.231.0.1/16", "10.231.0.0/31", "10.0.0.0/4", "x/16",
                          "10.231.0.0/1x", "10.231.0.0/"}) {
    auto pool = AddressPool::parse(bad);
    ASSERT_FALSE(pool) << bad;
    EXPECT_NE(pool.error().message.find(bad), std::string::npos) << pool.error().message;
  }
}

TEST(SandboxTable, RulesetAllowsOnlyTheProxy) {
  SandboxTableSpec spec;
  spec.name = "isol8_42_7";
  spec.ifname = "isol8h7";
  spec.proxy_address = (10u << 24) | (231u << 16) | 29;
  spec.proxy_port = 8118;
  const std::string rules = sandbox_table_ruleset(spec);
  EXPECT_NE(rules.find("add table inet isol8_42_7 { flags owner; }"), std::string::npos);
  EXPECT_NE(rules.find("iifname \"isol8h7\" meta nfproto ipv4 ip daddr 10.231.0.29 tcp dport "
                       "8118 accept"),
            std::string::npos)
      << rules;
  EXPECT_NE(rules.find("input iifname \"isol8h7\" drop"), std::string::npos);
  EXPECT_NE(rules.find("forward iifname \"isol8h7\" drop"), std::string::npos);
  EXPECT_NE(rules.find("output oifname \"isol8h7\" drop"), std::string::npos);
  // Only our own table is ever named.
  size_t pos = 0;
  while ((pos = rules.find(" inet ", pos)) != std::string::npos) {
    pos += 6;
    EXPECT_EQ(rules.compare(pos, 10, "isol8_42_7"), 0) << rules.substr(pos, 20);
  }
}

TEST(SlotLock, ClaimsDistinctSlotsAndUnlinksOnRelease) {
  const auto dir =
      std::filesystem::temp_directory_path() / ("isol8-native-slot-test-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  {
    std::vector<SlotLock> held;
    std::set<uint32_t> slots;
    for (int i = 0; i < 4; ++i) {
      auto lock = SlotLock::claim(dir, 4);
      ASSERT_TRUE(lock) << lock.error().message;
      slots.insert(lock->slot());
      held.push_back(std::move(lock).value());
    }
    EXPECT_EQ(slots.size(), 4u);
    auto fifth = SlotLock::claim(dir, 4);
    ASSERT_FALSE(fifth);
    EXPECT_NE(fifth.error().message.find("in use"), std::string::npos);
    // Held locks are not stale.
    EXPECT_EQ(SlotLock::reclaim_stale(dir), 0u);
  }
  EXPECT_TRUE(std::filesystem::is_empty(dir));
  // A lock file without a live holder is stale.
  { std::ofstream(dir / "slot-3.lock") << "999999\n"; }
  EXPECT_EQ(SlotLock::reclaim_stale(dir), 1u);
  EXPECT_TRUE(std::filesystem::is_empty(dir));
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace isol8
