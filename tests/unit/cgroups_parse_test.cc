// Pure parsing: control files, mountinfo, the isol8-<pid>-<name> naming scheme.

#include <gtest/gtest.h>
#include <unistd.h>

#include "cgroups/cgroup_fs.h"
#include "cgroups/cgroup_parse.h"

namespace isol8::cgroups {
namespace {

TEST(CgroupParse, U64) {
  EXPECT_EQ(parse_u64("536870912\n"), 536870912u);
  EXPECT_EQ(parse_u64(" 0 "), 0u);
  EXPECT_EQ(parse_u64("max\n"), std::nullopt);
  EXPECT_EQ(parse_u64(""), std::nullopt);
  EXPECT_EQ(parse_u64("-1"), std::nullopt);
  EXPECT_EQ(parse_u64("12 34"), std::nullopt);
}

TEST(CgroupParse, CpuStat) {
  auto f = parse_keyed(
      "usage_usec 2519\nuser_usec 1508\nsystem_usec 1011\nnr_periods 0\nnr_throttled 0\n"
      "throttled_usec 0\n");
  EXPECT_EQ(f["user_usec"], 1508u);
  EXPECT_EQ(f["system_usec"], 1011u);
  EXPECT_EQ(f.count("missing"), 0u);
}

TEST(CgroupParse, MemoryEventsWithOomKill) {
  auto f = parse_keyed("low 0\nhigh 0\nmax 17\noom 1\noom_kill 1\noom_group_kill 0\n");
  EXPECT_EQ(f["oom_kill"], 1u);
  EXPECT_EQ(f["max"], 17u);
}

TEST(CgroupParse, CpuacctStatAndOomControl) {
  auto stat = parse_keyed("user 150\nsystem 42\n");
  EXPECT_EQ(stat["user"], 150u);
  EXPECT_EQ(stat["system"], 42u);
  auto oom = parse_keyed("oom_kill_disable 0\nunder_oom 0\noom_kill 3\n");
  EXPECT_EQ(oom["oom_kill"], 3u);
}

TEST(CgroupParse, HasWord) {
  EXPECT_TRUE(has_word("cpuset cpu io memory pids\n", "cpu"));
  EXPECT_TRUE(has_word("cpuset cpu io memory pids\n", "pids"));
  EXPECT_FALSE(has_word("cpuset io memory\n", "cpu"));
  EXPECT_FALSE(has_word("hugetlb\n", "memory"));
}

TEST(CgroupParse, HybridMountinfo) {
  const char* text =
      "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
      "32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n"
      "33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct\n"
      "35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n"
      "37 31 0:34 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer\n"
      "39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids\n"
      "40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd\n"
      "41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n";
  CgroupMounts m = parse_cgroup_mounts(text);
  ASSERT_TRUE(m.unified);
  EXPECT_EQ(*m.unified, "/sys/fs/cgroup/unified");
  EXPECT_EQ(m.v1.at("memory"), "/sys/fs/cgroup/memory");
  EXPECT_EQ(m.v1.at("cpu"), "/sys/fs/cgroup/cpu");
  EXPECT_EQ(m.v1.at("cpuacct"), "/sys/fs/cgroup/cpuacct");
  EXPECT_EQ(m.v1.at("freezer"), "/sys/fs/cgroup/freezer");
  EXPECT_EQ(m.v1.at("pids"), "/sys/fs/cgroup/pids");
  EXPECT_EQ(m.v1.count("name=systemd"), 0u);
  EXPECT_EQ(m.v1.count("rw"), 0u);
}

TEST(CgroupParse, CoMountedCpuCpuacctWithOptionalFields) {
  const char* text =
      "28 22 0:25 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid,nodev,noexec,relatime shared:11 - "
      "cgroup cgroup rw,cpu,cpuacct\n"
      "29 22 0:26 / /sys/fs/cgroup/net_cls,net_prio rw,nosuid shared:12 master:3 - cgroup "
      "cgroup rw,net_cls,net_prio\n";
  CgroupMounts m = parse_cgroup_mounts(text);
  EXPECT_FALSE(m.unified);
  EXPECT_EQ(m.v1.at("cpu"), "/sys/fs/cgroup/cpu,cpuacct");
  EXPECT_EQ(m.v1.at("cpuacct"), "/sys/fs/cgroup/cpu,cpuacct");
  EXPECT_EQ(m.v1.at("net_prio"), "/sys/fs/cgroup/net_cls,net_prio");
}

TEST(CgroupParse, PureV2AndEscapedPath) {
  const char* text =
      "25 21 0:22 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot\n"
      "26 21 0:23 / /mnt/my\\040cgroups rw - cgroup2 none rw\n";
  CgroupMounts m = parse_cgroup_mounts(text);
  ASSERT_TRUE(m.unified);
  EXPECT_EQ(*m.unified, "/sys/fs/cgroup");  // the first one
  EXPECT_TRUE(m.v1.empty());
  CgroupMounts escaped = parse_cgroup_mounts("26 21 0:23 / /mnt/my\\040cg rw - cgroup2 x rw\n");
  EXPECT_EQ(*escaped.unified, "/mnt/my cg");
}

TEST(CgroupParse, NamesCarryTheOwnerPid) {
  EXPECT_EQ(dir_name(1234, "abc-1"), "isol8-1234-abc-1");
  EXPECT_EQ(owner_pid("isol8-1234-abc-1"), 1234);
  EXPECT_EQ(owner_pid(dir_name(::getpid(), "x")), ::getpid());
  EXPECT_EQ(owner_pid("isol8-1234"), std::nullopt);
  EXPECT_EQ(owner_pid("isol8-1234-"), std::nullopt);
  EXPECT_EQ(owner_pid("isol8-x12-a"), std::nullopt);
  EXPECT_EQ(owner_pid("isol8- 12-a"), std::nullopt);
  EXPECT_EQ(owner_pid("other-12-a"), std::nullopt);
  EXPECT_EQ(owner_pid("isol8-0-a"), std::nullopt);
}

TEST(CgroupParse, ValidateName) {
  EXPECT_TRUE(validate_name("sb-1.a_B"));
  EXPECT_FALSE(validate_name(""));
  EXPECT_FALSE(validate_name(".."));
  EXPECT_FALSE(validate_name("a/b"));
  EXPECT_FALSE(validate_name("a b"));
  EXPECT_FALSE(validate_name(std::string(65, 'a')));
}

TEST(CgroupParse, CpuQuota) {
  EXPECT_EQ(cpu_quota_usec(1.5), 150000u);
  EXPECT_EQ(cpu_quota_usec(2), 200000u);
  EXPECT_EQ(cpu_quota_usec(0.001), 1000u);  // the kernel's minimum
}

}  // namespace
}  // namespace isol8::cgroups
