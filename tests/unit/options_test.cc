// The option parsers of isol8/options.h: every fixed set of values, and every number and size
// against its stated range, with the messages the CLI and the config loader show.

#include "isol8/options.h"

#include <cmath>

#include <gtest/gtest.h>

namespace isol8 {
namespace {

template <class T>
std::string error_of(const Result<T>& r) {
  return r ? std::string("(accepted)") : r.error().message;
}

TEST(ParseChoice, EveryEnumRoundTrips) {
  for (auto kind : {BackendKind::kNative, BackendKind::kDocker}) {
    EXPECT_EQ(*parse_backend_kind(to_string(kind)), kind);
  }
  for (auto mode : {NetworkMode::kNone, NetworkMode::kHost, NetworkMode::kFiltered}) {
    EXPECT_EQ(*parse_network_mode(to_string(mode)), mode);
  }
  for (auto mode : {SeccompMode::kStrict, SeccompMode::kUnconfined, SeccompMode::kCustom}) {
    EXPECT_EQ(*parse_seccomp_mode(to_string(mode)), mode);
  }
  for (auto mode : {FilteredMode::kAuto, FilteredMode::kVeth, FilteredMode::kRelay}) {
    EXPECT_EQ(*parse_filtered_mode(to_string(mode)), mode);
  }
  for (auto strategy : {PoolStrategy::kFast, PoolStrategy::kSecure}) {
    EXPECT_EQ(*parse_pool_strategy(to_string(strategy)), strategy);
  }
  EXPECT_STREQ(to_string(SeccompMode::kUnconfined), "unconfined");
  EXPECT_STREQ(to_string(FilteredMode::kRelay), "relay");
  EXPECT_STREQ(to_string(PoolStrategy::kSecure), "secure");
}

TEST(ParseChoice, UnknownValueNamesTheSubjectAndTheChoices) {
  EXPECT_EQ(error_of(parse_network_mode("bridge", "--net")),
            "Invalid --net value: \"bridge\". Expected one of: none, host, filtered");
  EXPECT_EQ(error_of(parse_backend_kind("podman", "--backend")),
            "Invalid --backend value: \"podman\". Expected one of: native, docker");
  EXPECT_EQ(error_of(parse_seccomp_mode("lax")),
            "Invalid security.seccomp value: \"lax\". Expected one of: strict, unconfined, custom");
  EXPECT_EQ(error_of(parse_filtered_mode("tap")),
            "Invalid native.filteredMode value: \"tap\". Expected one of: auto, veth, relay");
  EXPECT_EQ(error_of(parse_pool_strategy("lazy")),
            "Invalid poolStrategy value: \"lazy\". Expected one of: fast, secure");
  // Case matters, as upstream's schema has it.
  EXPECT_FALSE(parse_network_mode("None"));
}

TEST(ParseTimeout, AcceptsItsRange) {
  EXPECT_EQ(*parse_timeout_ms("1", "--timeout"), 1);
  EXPECT_EQ(*parse_timeout_ms("30000", "--timeout"), 30000);
  EXPECT_EQ(*parse_timeout_ms("86400000", "--timeout"), 86400000);
}

TEST(ParseTimeout, RefusesWithTheFlagAndTheValue) {
  const std::string what =
      " must be a positive integer number of milliseconds, at most 86400000 (24 hours): got ";
  EXPECT_EQ(error_of(parse_timeout_ms("abc", "--timeout")), "--timeout" + what + "\"abc\"");
  EXPECT_EQ(error_of(parse_timeout_ms("-5", "--timeout")), "--timeout" + what + "\"-5\"");
  for (const char* bad : {"0", "", " 5", "5 ", "+5", "5.5", "1e3", "0x10", "86400001",
                          "9300000000000", "99999999999999999999999"}) {
    EXPECT_EQ(error_of(parse_timeout_ms(bad, "--timeout")), "--timeout" + what + "\"" + bad + "\"");
  }
}

TEST(ParseMemory, AcceptsItsRange) {
  EXPECT_EQ(*parse_memory_limit("6m", "--memory"), 6ull << 20);
  EXPECT_EQ(*parse_memory_limit("512m", "--memory"), 512ull << 20);
  EXPECT_EQ(*parse_memory_limit("1t", "--memory"), 1ull << 40);
}

TEST(ParseMemory, RefusesBelowDockersMinimumAndAboveTheMaximum) {
  EXPECT_EQ(error_of(parse_memory_limit("1k", "--memory")),
            "--memory must be at least 6m (the smallest limit Docker accepts): got \"1k\"");
  EXPECT_EQ(error_of(parse_memory_limit("6291455", "--memory")),
            "--memory must be at least 6m (the smallest limit Docker accepts): got \"6291455\"");
  EXPECT_EQ(error_of(parse_memory_limit("999t", "--memory")),
            "--memory must be at most 1t: got \"999t\"");
}

TEST(ParseMemory, BadFormatKeepsUpstreamsMessage) {
  EXPECT_EQ(error_of(parse_memory_limit("lots", "--memory")),
            "--memory: Invalid memory limit format: \"lots\". Use e.g. \"512m\", \"1g\".");
}

TEST(ParseCpu, AcceptsItsRange) {
  EXPECT_DOUBLE_EQ(*parse_cpu_limit("0.01", "--cpu"), 0.01);
  EXPECT_DOUBLE_EQ(*parse_cpu_limit("1.5", "--cpu"), 1.5);
  EXPECT_DOUBLE_EQ(*parse_cpu_limit("2", "--cpu"), 2.0);
  EXPECT_DOUBLE_EQ(*parse_cpu_limit("1024", "--cpu"), 1024.0);
}

TEST(ParseCpu, RefusesWithTheFlagAndTheValue) {
  for (const char* bad :
       {"1e9", "0", "0.001", "-1", "abc", "", "nan", "inf", "0x10", " 1", "1.5x", "1025"}) {
    EXPECT_EQ(error_of(parse_cpu_limit(bad, "--cpu")),
              std::string("--cpu must be a number of CPUs from 0.01 to 1024: got \"") + bad + "\"");
  }
}

TEST(ParsePids, AcceptsItsRangeAndRefusesTheRest) {
  EXPECT_EQ(*parse_pids_limit("1", "--pids-limit"), 1);
  EXPECT_EQ(*parse_pids_limit("4194304", "--pids-limit"), 4194304);
  EXPECT_EQ(error_of(parse_pids_limit("4194305", "--pids-limit")),
            "--pids-limit must be a positive integer number of processes, at most 4194304: got "
            "\"4194305\"");
  EXPECT_FALSE(parse_pids_limit("0", "--pids-limit"));
  EXPECT_FALSE(parse_pids_limit("ten", "--pids-limit"));
}

TEST(ParseTmpfsSize, AcceptsItsRangeAndRefusesTheRest) {
  EXPECT_EQ(*parse_tmpfs_size("1m", "--sandbox-size"), 1ull << 20);
  EXPECT_EQ(*parse_tmpfs_size("256m", "--tmp-size"), 256ull << 20);
  EXPECT_EQ(*parse_tmpfs_size("1t", "--tmp-size"), 1ull << 40);
  EXPECT_EQ(error_of(parse_tmpfs_size("1k", "--sandbox-size")),
            "--sandbox-size must be from 1m to 1t: got \"1k\"");
  EXPECT_EQ(error_of(parse_tmpfs_size("2t", "--tmp-size")),
            "--tmp-size must be from 1m to 1t: got \"2t\"");
  EXPECT_EQ(error_of(parse_tmpfs_size("big", "--tmp-size")),
            "--tmp-size must be a size such as \"512m\" or \"1g\": got \"big\"");
}

TEST(ParseMaxOutput, AcceptsItsRangeAndRefusesTheRest) {
  EXPECT_EQ(*parse_max_output("1", "--max-output"), 1);
  EXPECT_EQ(*parse_max_output("1073741824", "--max-output"), 1073741824);
  EXPECT_EQ(error_of(parse_max_output("1073741825", "--max-output")),
            "--max-output must be a positive integer number of bytes, at most 1073741824 (1 GiB): "
            "got \"1073741825\"");
  EXPECT_FALSE(parse_max_output("1m", "--max-output"));
  EXPECT_FALSE(parse_max_output("-1", "--max-output"));
}

TEST(CheckLimits, DefaultOptionsAreWithinRange) {
  EXPECT_TRUE(check_limits(Options{}, std::nullopt));
  EXPECT_TRUE(check_limits(Options{}, 1));
}

TEST(CheckLimits, NamesTheUpstreamKey) {
  Options o;
  o.timeout_ms = -1;
  EXPECT_EQ(error_of(check_limits(o, std::nullopt)),
            "timeoutMs must be a positive integer number of milliseconds, at most 86400000 (24 "
            "hours): got \"-1\"");
  EXPECT_NE(error_of(check_limits(Options{}, 0)).find("ExecutionRequest.timeoutMs"),
            std::string::npos);
  o = Options{};
  o.cpu_limit = std::nan("");
  EXPECT_NE(error_of(check_limits(o, std::nullopt)).find("cpuLimit"), std::string::npos);
}

TEST(FormatSize, UsesTheLargestExactUnit) {
  EXPECT_EQ(format_size(512ull << 20), "512m");
  EXPECT_EQ(format_size(1ull << 40), "1t");
  EXPECT_EQ(format_size(6ull << 20), "6m");
  EXPECT_EQ(format_size(1536ull << 20), "1536m");
  EXPECT_EQ(format_size(4096), "4k");
  EXPECT_EQ(format_size(1000), "1000");
}

}  // namespace
}  // namespace isol8
