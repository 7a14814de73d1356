#include "server/metrics.h"

#include <fmt/format.h>

namespace isol8::server {
namespace {

// Label values may hold anything a client sent as a runtime name: escape as the format says.
std::string escape(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '\\' || c == '"') out.push_back('\\');
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out.push_back(c);
  }
  return out;
}

}  // namespace

void Metrics::execution(const std::string& runtime, const std::string& status, double seconds) {
  std::lock_guard lock(mutex_);
  ++executions_[{runtime, status}];
  for (size_t i = 0; i < kBuckets.size(); ++i) {
    if (seconds <= kBuckets[i]) ++bucket_counts_[i];
  }
  ++duration_count_;
  duration_sum_ += seconds;
}

void Metrics::auth_failure(int status) {
  std::lock_guard lock(mutex_);
  ++auth_failures_[status];
}

void Metrics::rejected_busy() {
  std::lock_guard lock(mutex_);
  ++rejected_;
}

void Metrics::http_response(int status) {
  std::lock_guard lock(mutex_);
  ++responses_[status];
}

std::string Metrics::render(const Gauges& g) const {
  std::lock_guard lock(mutex_);
  std::string out;
  out += "# HELP isol8_executions_total Executions finished, by runtime and status.\n";
  out += "# TYPE isol8_executions_total counter\n";
  for (const auto& [key, n] : executions_) {
    out += fmt::format("isol8_executions_total{{runtime=\"{}\",status=\"{}\"}} {}\n",
                       escape(key.first), escape(key.second), n);
  }
  out += "# HELP isol8_execution_duration_seconds Time from start to result of an execution.\n";
  out += "# TYPE isol8_execution_duration_seconds histogram\n";
  for (size_t i = 0; i < kBuckets.size(); ++i) {
    out += fmt::format("isol8_execution_duration_seconds_bucket{{le=\"{}\"}} {}\n", kBuckets[i],
                       bucket_counts_[i]);
  }
  out +=
      fmt::format("isol8_execution_duration_seconds_bucket{{le=\"+Inf\"}} {}\n", duration_count_);
  out += fmt::format("isol8_execution_duration_seconds_sum {}\n", duration_sum_);
  out += fmt::format("isol8_execution_duration_seconds_count {}\n", duration_count_);
  auto gauge = [&](const char* name, const char* help, auto value) {
    out += fmt::format("# HELP {} {}\n# TYPE {} gauge\n{} {}\n", name, help, name, name, value);
  };
  gauge("isol8_executions_in_flight", "Executions running now.", g.in_flight);
  gauge("isol8_queue_depth", "Executions waiting for a worker.", g.queued);
  gauge("isol8_workers", "Worker threads (maxConcurrent).", g.workers);
  gauge("isol8_sessions", "Persistent sessions held.", g.sessions);
  gauge("isol8_connections", "Open client connections.", g.connections);
  out += "# HELP isol8_auth_failures_total Requests refused by authentication, by status.\n";
  out += "# TYPE isol8_auth_failures_total counter\n";
  for (const auto& [status, n] : auth_failures_) {
    out += fmt::format("isol8_auth_failures_total{{status=\"{}\"}} {}\n", status, n);
  }
  out += "# HELP isol8_rejected_busy_total Executions refused with 503 (queue full).\n";
  out += "# TYPE isol8_rejected_busy_total counter\n";
  out += fmt::format("isol8_rejected_busy_total {}\n", rejected_);
  out += "# HELP isol8_http_responses_total HTTP responses, by status.\n";
  out += "# TYPE isol8_http_responses_total counter\n";
  for (const auto& [status, n] : responses_) {
    out += fmt::format("isol8_http_responses_total{{status=\"{}\"}} {}\n", status, n);
  }
  return out;
}

}  // namespace isol8::server
