#include "cli/logging.h"

#include <memory>

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

namespace isol8::cli {
namespace {

// Upstream's level words instead of spdlog's ("warning" -> "WARN").
class LevelWord final : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm&,
              spdlog::memory_buf_t& dest) override {
    const char* word = "INFO";
    switch (msg.level) {
      case spdlog::level::trace:
      case spdlog::level::debug:
        word = "DEBUG";
        break;
      case spdlog::level::warn:
        word = "WARN";
        break;
      case spdlog::level::err:
      case spdlog::level::critical:
        word = "ERROR";
        break;
      default:
        break;
    }
    dest.append(word, word + std::strlen(word));
  }
  std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<LevelWord>();
  }
};

}  // namespace

void setup_logging(bool debug) {
  // The _mt sink: the proxy thread, the pool's retirer and the Docker reclaim threads log
  // concurrently with the run's own thread.
  auto logger =
      std::make_shared<spdlog::logger>("isol8", std::make_shared<spdlog::sinks::stderr_sink_mt>());
  auto formatter = std::make_unique<spdlog::pattern_formatter>();
  formatter->add_flag<LevelWord>('*').set_pattern("[%*] %v");
  logger->set_formatter(std::move(formatter));
  logger->set_level(debug ? spdlog::level::debug : spdlog::level::info);
  logger->flush_on(spdlog::level::trace);
  spdlog::set_default_logger(std::move(logger));
}

}  // namespace isol8::cli
