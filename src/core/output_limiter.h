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

  // The part of `data` that still fits; never splits a UTF-8 character.
  std::string_view admit(std::string_view data);
  bool truncated() const { return truncated_; }
  uint64_t total() const { return total_; }
  std::string marker() const;

 private:
  uint64_t limit_;
  uint64_t kept_ = 0;
  uint64_t total_ = 0;
  bool truncated_ = false;
};

}  // namespace isol8
