#include "cli/console_output.h"

#include <unistd.h>

#include <cerrno>
#include <functional>
#include <memory>
#include <string>

namespace isol8::cli {
namespace {

// nlohmann's serializer writes through an output adapter; this one collects a small buffer and
// hands it to the console, so that a result of any size is never held as one string.
class BufferedAdapter final : public nlohmann::detail::output_adapter_protocol<char> {
 public:
  explicit BufferedAdapter(std::function<void(std::string_view)> sink) : sink_(std::move(sink)) {}
  void write_character(char c) override {
    buffer_.push_back(c);
    if (buffer_.size() >= kChunk) flush();
  }
  void write_characters(const char* s, std::size_t length) override {
    buffer_.append(s, length);
    if (buffer_.size() >= kChunk) flush();
  }
  void flush() {
    if (!buffer_.empty()) sink_(buffer_);
    buffer_.clear();
  }

 private:
  static constexpr size_t kChunk = 64 * 1024;
  std::function<void(std::string_view)> sink_;
  std::string buffer_;
};

}  // namespace

void ConsoleOutput::write(Stream stream, std::string_view data) {
  if (closed_[stream]) return;
  const int fd = stream == kOut ? STDOUT_FILENO : STDERR_FILENO;
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EPIPE) {
      closed_[stream] = true;
      interrupts_.note_output_closed();
      return;
    }
    if (n <= 0) return;  // a full disk, a revoked terminal: nothing more to be done about it
    data.remove_prefix(static_cast<size_t>(n));
  }
}

void ConsoleOutput::out_json(const nlohmann::json& j) {
  auto adapter = std::make_shared<BufferedAdapter>([this](std::string_view s) { out(s); });
  nlohmann::detail::serializer<nlohmann::json> serializer(adapter, ' ',
                                                          nlohmann::json::error_handler_t::replace);
  serializer.dump(j, /*pretty_print=*/false, /*ensure_ascii=*/false, /*indent_step=*/0);
  adapter->write_character('\n');
  adapter->flush();
}

}  // namespace isol8::cli
