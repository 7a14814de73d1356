#pragma once
// Replaces every occurrence of a secret value with "***" in a stream that arrives in pieces. A
// secret split across two pieces is still caught: a tail that could be the start of a secret is
// held back until the next piece (or finish()) decides.

#include <string>
#include <string_view>
#include <vector>

namespace isol8 {

class SecretMasker {
 public:
  explicit SecretMasker(std::vector<std::string> secrets);

  // Masked text that is safe to emit now.
  std::string feed(std::string_view data);
  // Whatever is still held back, masked.
  std::string finish();

 private:
  std::string scan(std::string_view data, bool final);

  std::vector<std::string> secrets_;  // non-empty, longest first
  std::string pending_;
};

}  // namespace isol8
