#pragma once
// The counters behind GET /metrics, rendered in Prometheus' text format (version 0.0.4).
// Thread-safe.

#include <array>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>

namespace isol8::server {

struct Gauges {
  int in_flight = 0;
  int queued = 0;
  size_t sessions = 0;
  int workers = 0;
  int connections = 0;
};

class Metrics {
 public:
  // One finished execution: runtime, "ok"/"error"/"timeout"/"oom"/"killed"/"failed" (no result).
  void execution(const std::string& runtime, const std::string& status, double seconds);
  void auth_failure(int status);
  void rejected_busy();
  void http_response(int status);

  std::string render(const Gauges& gauges) const;

 private:
  static constexpr std::array<double, 12> kBuckets = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                                      0.5,   1,    2.5,   5,    10,  30};
  mutable std::mutex mutex_;
  std::map<std::pair<std::string, std::string>, uint64_t> executions_;
  std::array<uint64_t, kBuckets.size()> bucket_counts_{};
  uint64_t duration_count_ = 0;
  double duration_sum_ = 0;
  std::map<int, uint64_t> auth_failures_;
  uint64_t rejected_ = 0;
  std::map<int, uint64_t> responses_;
};

}  // namespace isol8::server
