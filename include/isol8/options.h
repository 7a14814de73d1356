#pragma once
// Text -> typed option values, in one place for every edge that takes text (CLI flags, the config
// file, later the server), and the stated range of every number and size.
//
// Every number an option takes is checked against its range before anything uses it: a value
// out of range is refused with a message that names the flag or key and the value given, never
// clamped, and never passed on to overflow a nanosecond count or a cgroup file.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "isol8/result.h"
#include "isol8/types.h"

namespace isol8 {

// The fixed sets of values. `subject` names the flag or key in the message:
//   Invalid --net value: "x". Expected one of: none, host, filtered
Result<BackendKind> parse_backend_kind(std::string_view text, std::string_view subject = "backend");
Result<NetworkMode> parse_network_mode(std::string_view text, std::string_view subject = "network");
Result<SeccompMode> parse_seccomp_mode(std::string_view text,
                                       std::string_view subject = "security.seccomp");
Result<FilteredMode> parse_filtered_mode(std::string_view text,
                                         std::string_view subject = "native.filteredMode");
Result<PoolStrategy> parse_pool_strategy(std::string_view text,
                                         std::string_view subject = "poolStrategy");
Result<EngineMode> parse_engine_mode(std::string_view text, std::string_view subject = "mode");

// The stated ranges (both ends included).
namespace limits {
inline constexpr int64_t kMinTimeoutMs = 1;
inline constexpr int64_t kMaxTimeoutMs = 86'400'000;  // 24 hours
// Docker refuses a memory limit under 6 MiB; the native backend keeps the same floor (a runtime
// under it is OOM-killed before it prints anything).
inline constexpr uint64_t kMinMemoryBytes = 6ull << 20;
inline constexpr uint64_t kMaxMemoryBytes = 1ull << 40;  // 1 TiB; above the host's RAM: a warning
inline constexpr double kMinCpus = 0.01;                 // Docker's smallest NanoCpus step
inline constexpr double kMaxCpus = 1024;                 // above the host's CPUs: a warning
inline constexpr int64_t kMinPids = 1;
inline constexpr int64_t kMaxPids = 4'194'304;          // the kernel's largest pid_max
inline constexpr uint64_t kMinTmpfsBytes = 1ull << 20;  // /sandbox and /tmp
inline constexpr uint64_t kMaxTmpfsBytes = 1ull << 40;
inline constexpr int64_t kMinOutputBytes = 1;
inline constexpr int64_t kMaxOutputBytes = 1ll << 30;  // per stream; --no-stream holds this much
}  // namespace limits

// Numbers and sizes from text: a flag's value, or the JSON text of a config value. The message of
// a refusal starts with `subject` and ends with the value given, e.g.
//   --timeout must be a positive integer number of milliseconds, at most 86400000 (24 hours):
//   got "abc"
Result<int64_t> parse_timeout_ms(std::string_view text, std::string_view subject);
Result<uint64_t> parse_memory_limit(std::string_view text, std::string_view subject);
Result<double> parse_cpu_limit(std::string_view text, std::string_view subject);
Result<int64_t> parse_pids_limit(std::string_view text, std::string_view subject);
Result<uint64_t> parse_tmpfs_size(std::string_view text, std::string_view subject);
Result<int64_t> parse_max_output(std::string_view text, std::string_view subject);

// The same ranges checked on typed values (options built in code, a request's timeout), with the
// upstream key names: "timeoutMs must be ...: got 9300000000000".
Result<void> check_limits(const Options& options, std::optional<int64_t> request_timeout_ms);

// The filtered network's host patterns (RE2, matched case-insensitively): a pattern that does not
// compile is refused before anything starts, naming `subject` (e.g. "--allow") and the pattern.
Result<void> check_host_patterns(const std::vector<std::string>& patterns,
                                 std::string_view subject);

// 536870912 -> "512m", 1536 -> "1536" (the largest unit that divides it exactly; bytes otherwise).
std::string format_size(uint64_t bytes);

}  // namespace isol8
