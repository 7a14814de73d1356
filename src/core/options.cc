#include "isol8/options.h"

#include <array>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <utility>

#include <fmt/format.h>

#include "core/sizes.h"
#include "proxy/host_filter.h"

namespace isol8 {
namespace {

template <class Enum, size_t N>
Result<Enum> parse_choice(std::string_view text, std::string_view subject,
                          const std::array<std::pair<const char*, Enum>, N>& choices) {
  std::string names;
  for (const auto& [name, value] : choices) {
    if (text == name) return value;
    names += names.empty() ? name : std::string(", ") + name;
  }
  return make_error(
      fmt::format("Invalid {} value: \"{}\". Expected one of: {}", subject, text, names));
}

template <class Enum, size_t N>
const char* choice_name(Enum value, const std::array<std::pair<const char*, Enum>, N>& choices) {
  for (const auto& [name, v] : choices) {
    if (v == value) return name;
  }
  return choices[0].first;
}

constexpr std::array<std::pair<const char*, BackendKind>, 2> kBackends{
    {{"native", BackendKind::kNative}, {"docker", BackendKind::kDocker}}};
constexpr std::array<std::pair<const char*, NetworkMode>, 3> kNetworks{
    {{"none", NetworkMode::kNone},
     {"host", NetworkMode::kHost},
     {"filtered", NetworkMode::kFiltered}}};
constexpr std::array<std::pair<const char*, SeccompMode>, 3> kSeccompModes{
    {{"strict", SeccompMode::kStrict},
     {"unconfined", SeccompMode::kUnconfined},
     {"custom", SeccompMode::kCustom}}};
constexpr std::array<std::pair<const char*, FilteredMode>, 3> kFilteredModes{
    {{"auto", FilteredMode::kAuto},
     {"veth", FilteredMode::kVeth},
     {"relay", FilteredMode::kRelay}}};
constexpr std::array<std::pair<const char*, PoolStrategy>, 2> kPoolStrategies{
    {{"fast", PoolStrategy::kFast}, {"secure", PoolStrategy::kSecure}}};
constexpr std::array<std::pair<const char*, EngineMode>, 2> kEngineModes{
    {{"ephemeral", EngineMode::kEphemeral}, {"persistent", EngineMode::kPersistent}}};

// A whole decimal number, nothing else (no sign, spaces, fraction or exponent); nullopt when the
// text is not one or does not fit in 64 bits.
std::optional<int64_t> whole_number(std::string_view text) {
  if (text.empty() || text.front() < '0' || text.front() > '9') return std::nullopt;
  int64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

Result<int64_t> parse_count(std::string_view text, std::string_view subject, int64_t min,
                            int64_t max, std::string_view what) {
  const auto value = whole_number(text);
  if (value && *value >= min && *value <= max) return *value;
  return make_error(fmt::format("{} must be {}: got \"{}\"", subject, what, text));
}

Result<uint64_t> parse_size_in(std::string_view text, std::string_view subject, uint64_t min,
                               uint64_t max, std::string_view bad_format) {
  auto bytes = parse_size(text);
  if (!bytes) return make_error(fmt::format("{} {}: got \"{}\"", subject, bad_format, text));
  if (*bytes < min || *bytes > max) {
    return make_error(fmt::format("{} must be from {} to {}: got \"{}\"", subject, format_size(min),
                                  format_size(max), text));
  }
  return *bytes;
}

}  // namespace

Result<BackendKind> parse_backend_kind(std::string_view text, std::string_view subject) {
  return parse_choice(text, subject, kBackends);
}
Result<NetworkMode> parse_network_mode(std::string_view text, std::string_view subject) {
  return parse_choice(text, subject, kNetworks);
}
Result<SeccompMode> parse_seccomp_mode(std::string_view text, std::string_view subject) {
  return parse_choice(text, subject, kSeccompModes);
}
Result<FilteredMode> parse_filtered_mode(std::string_view text, std::string_view subject) {
  return parse_choice(text, subject, kFilteredModes);
}
Result<PoolStrategy> parse_pool_strategy(std::string_view text, std::string_view subject) {
  return parse_choice(text, subject, kPoolStrategies);
}

const char* to_string(SeccompMode mode) { return choice_name(mode, kSeccompModes); }
const char* to_string(FilteredMode mode) { return choice_name(mode, kFilteredModes); }
Result<EngineMode> parse_engine_mode(std::string_view text, std::string_view subject) {
  return parse_choice(text, subject, kEngineModes);
}

const char* to_string(PoolStrategy strategy) { return choice_name(strategy, kPoolStrategies); }
const char* to_string(EngineMode mode) { return choice_name(mode, kEngineModes); }

Result<int64_t> parse_timeout_ms(std::string_view text, std::string_view subject) {
  return parse_count(text, subject, limits::kMinTimeoutMs, limits::kMaxTimeoutMs,
                     fmt::format("a positive integer number of milliseconds, at most {} (24 hours)",
                                 limits::kMaxTimeoutMs));
}

Result<uint64_t> parse_memory_limit(std::string_view text, std::string_view subject) {
  auto bytes = parse_size(text);
  // upstream's message, naming where the value came from.
  if (!bytes) return std::move(bytes).error().context(subject);
  if (*bytes < limits::kMinMemoryBytes) {
    return make_error(
        fmt::format("{} must be at least {} (the smallest limit Docker accepts): got \"{}\"",
                    subject, format_size(limits::kMinMemoryBytes), text));
  }
  if (*bytes > limits::kMaxMemoryBytes) {
    return make_error(fmt::format("{} must be at most {}: got \"{}\"", subject,
                                  format_size(limits::kMaxMemoryBytes), text));
  }
  return *bytes;
}

Result<double> parse_cpu_limit(std::string_view text, std::string_view subject) {
  // Decimal only: strtod alone would also take " 1", "0x10", "inf" and "nan".
  const std::string s(text);
  const bool decimal = !s.empty() && s.find_first_not_of("0123456789.eE+-") == std::string::npos;
  char* end = nullptr;
  const double value = decimal ? std::strtod(s.c_str(), &end) : NAN;
  if (end == s.c_str() + s.size() && std::isfinite(value) && value >= limits::kMinCpus &&
      value <= limits::kMaxCpus) {
    return value;
  }
  return make_error(fmt::format("{} must be a number of CPUs from {} to {}: got \"{}\"", subject,
                                limits::kMinCpus, limits::kMaxCpus, text));
}

Result<int64_t> parse_pids_limit(std::string_view text, std::string_view subject) {
  return parse_count(
      text, subject, limits::kMinPids, limits::kMaxPids,
      fmt::format("a positive integer number of processes, at most {}", limits::kMaxPids));
}

Result<uint64_t> parse_tmpfs_size(std::string_view text, std::string_view subject) {
  return parse_size_in(text, subject, limits::kMinTmpfsBytes, limits::kMaxTmpfsBytes,
                       "must be a size such as \"512m\" or \"1g\"");
}

Result<int64_t> parse_max_output(std::string_view text, std::string_view subject) {
  return parse_count(text, subject, limits::kMinOutputBytes, limits::kMaxOutputBytes,
                     fmt::format("a positive integer number of bytes, at most {} (1 GiB)",
                                 limits::kMaxOutputBytes));
}

Result<void> check_limits(const Options& o, std::optional<int64_t> request_timeout_ms) {
  ISOL8_TRY(parse_timeout_ms(std::to_string(o.timeout_ms), "timeoutMs"));
  if (request_timeout_ms) {
    ISOL8_TRY(parse_timeout_ms(std::to_string(*request_timeout_ms), "ExecutionRequest.timeoutMs"));
  }
  ISOL8_TRY(parse_memory_limit(std::to_string(o.memory_limit_bytes), "memoryLimit"));
  ISOL8_TRY(parse_cpu_limit(fmt::format("{}", o.cpu_limit), "cpuLimit"));
  ISOL8_TRY(parse_pids_limit(std::to_string(o.pids_limit), "pidsLimit"));
  ISOL8_TRY(parse_tmpfs_size(std::to_string(o.sandbox_size_bytes), "sandboxSize"));
  ISOL8_TRY(parse_tmpfs_size(std::to_string(o.tmp_size_bytes), "tmpSize"));
  ISOL8_TRY(parse_max_output(std::to_string(o.max_output_size), "maxOutputSize"));
  return ok();
}

std::string format_size(uint64_t bytes) {
  constexpr std::array<std::pair<int, char>, 4> kUnits{
      {{40, 't'}, {30, 'g'}, {20, 'm'}, {10, 'k'}}};
  for (const auto& [shift, unit] : kUnits) {
    const uint64_t step = uint64_t{1} << shift;
    if (bytes >= step && bytes % step == 0) return fmt::format("{}{}", bytes / step, unit);
  }
  return std::to_string(bytes);
}

Result<void> check_host_patterns(const std::vector<std::string>& patterns,
                                 std::string_view subject) {
  return proxy::HostFilter::check(patterns, subject);
}

}  // namespace isol8
