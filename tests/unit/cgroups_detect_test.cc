// detect_cgroup_manager() on imitated hosts: pure v2, hybrid (this machine), v1 only, nothing.

#include <gtest/gtest.h>

#include "cgroups/cgroup_manager.h"
#include "fakes/fake_cgroupfs.h"

namespace isol8 {
namespace {

using testing::FakeCgroupFs;

void add_v1_hierarchies(FakeCgroupFs& fake) {
  for (const char* c : {"memory", "pids", "cpu,cpuacct", "freezer"}) fake.add_v1(c);
}

std::string joined(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += s + "\n";
  return out;
}

TEST(CgroupDetect, PicksV2WhenItHasTheControllers) {
  FakeCgroupFs fake;
  fake.add_v2("cpuset cpu io memory hugetlb pids");
  add_v1_hierarchies(fake);  // ignored: v2 is preferred
  auto m = detect_cgroup_manager(fake.roots());
  EXPECT_STREQ(m->kind(), "v2");
  EXPECT_TRUE(m->unavailable_reasons().empty());
}

TEST(CgroupDetect, PicksV1OnAHybridHostWhoseV2HasNoControllers) {
  FakeCgroupFs fake;
  fake.add_v2("hugetlb");
  add_v1_hierarchies(fake);
  auto m = detect_cgroup_manager(fake.roots());
  EXPECT_STREQ(m->kind(), "v1");
}

TEST(CgroupDetect, NoneWhenV2LacksPidsAndV1IsIncomplete) {
  FakeCgroupFs fake;
  fake.add_v2("cpu memory");
  fake.add_v1("memory");
  fake.add_v1("cpu");
  auto m = detect_cgroup_manager(fake.roots());
  EXPECT_STREQ(m->kind(), "none");
  std::string reasons = joined(m->unavailable_reasons());
  EXPECT_NE(reasons.find("cgroup v2:"), std::string::npos) << reasons;
  EXPECT_NE(reasons.find("lacks pids"), std::string::npos) << reasons;
  EXPECT_NE(reasons.find("cgroup v1: no v1 hierarchy for: pids freezer"), std::string::npos)
      << reasons;
}

TEST(CgroupDetect, NoneWhenNothingIsMounted) {
  FakeCgroupFs fake;
  auto m = detect_cgroup_manager(fake.roots());
  EXPECT_STREQ(m->kind(), "none");
  std::string reasons = joined(m->unavailable_reasons());
  EXPECT_NE(reasons.find("cgroup v2: not mounted"), std::string::npos) << reasons;
}

TEST(CgroupDetect, NoneWhenMountinfoIsUnreadable) {
  CgroupRoots roots;
  roots.mountinfo = "/nonexistent/mountinfo";
  auto m = detect_cgroup_manager(roots);
  EXPECT_STREQ(m->kind(), "none");
  std::string reasons = joined(m->unavailable_reasons());
  EXPECT_NE(reasons.find("/nonexistent/mountinfo"), std::string::npos) << reasons;
}

TEST(CgroupDetect, NoneManagerAppliesNothing) {
  auto m = make_none_cgroup_manager({"turned off"});
  EXPECT_STREQ(m->kind(), "none");
  EXPECT_EQ(m->unavailable_reasons(), std::vector<std::string>{"turned off"});
  auto cg = m->create("sb1", {64 << 20, 16, 1});
  ASSERT_TRUE(cg) << cg.error().message;
  EXPECT_TRUE((*cg)->enforced().empty());
  EXPECT_TRUE((*cg)->directories().empty());
  EXPECT_EQ((*cg)->clone_into_fd(), -1);
  EXPECT_TRUE((*cg)->add_process(1));
  EXPECT_TRUE((*cg)->kill_all());
  EXPECT_EQ((*cg)->usage()->memory_peak_bytes, 0u);
  EXPECT_EQ(*m->reclaim_stale(), 0u);
  EXPECT_FALSE(m->create("bad/name", {}));
}

}  // namespace
}  // namespace isol8
