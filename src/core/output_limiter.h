#pragma once
// Caps one output stream at a byte limit, counting everything that arrives, and produces
// upstream's marker: "\n\n--- OUTPUT TRUNCATED (<total> bytes, limit: <max>) ---".

#include <cstdint>
#include <string>
#include <string_view>

namespace isol8 {

class OutputLimiter {
 public:
  explicit OutputLimiter(uint64_t limit) : limit_(limit) {}

  // The part of `data` that can be emitted now. The kept output never ends inside a UTF-8
  // character: an incomplete sequence at the end of a piece is held back until the next piece
  // completes it (or finish()).
  std::string admit(std::string_view data);
  // What is still held back, if it fits.
  std::string finish();
  bool truncated() const { return truncated_; }
  uint64_t total() const { return total_; }
  std::string marker() const;

 private:
  uint64_t limit_;
  uint64_t kept_ = 0;
  uint64_t total_ = 0;
  bool truncated_ = false;
  std::string held_;  // an incomplete UTF-8 sequence (at most 3 bytes)
};

}  // namespace isol8
