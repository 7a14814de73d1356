#include "core/secret_masker.h"

#include <algorithm>

namespace isol8 {

inline constexpr std::string_view kMask = "***";

SecretMasker::SecretMasker(std::vector<std::string> secrets) {
  for (auto& s : secrets) {
    if (!s.empty()) secrets_.push_back(std::move(s));
  }
  // Longest first: when two secrets overlap, the longer one is masked whole.
  std::sort(secrets_.begin(), secrets_.end(),
            [](const auto& a, const auto& b) { return a.size() > b.size(); });
  secrets_.erase(std::unique(secrets_.begin(), secrets_.end()), secrets_.end());
  for (const auto& s : secrets_) {
    if (first_chars_.find(s[0]) == std::string::npos) first_chars_ += s[0];
  }
}

std::string SecretMasker::feed(std::string_view data) {
  if (secrets_.empty()) return std::string(data);
  std::string buffer = std::move(pending_);
  pending_.clear();
  buffer.append(data);
  return scan(buffer, false);
}

std::string SecretMasker::finish() {
  std::string buffer = std::move(pending_);
  pending_.clear();
  return scan(buffer, true);
}

std::string SecretMasker::scan(std::string_view buf, bool final) {
  std::string out;
  out.reserve(buf.size());
  size_t i = 0;
  while (i < buf.size()) {
    // Jump to the next byte that can start a secret.
    const size_t next = buf.find_first_of(first_chars_, i);
    if (next == std::string_view::npos) {
      out.append(buf.substr(i));
      break;
    }
    out.append(buf.substr(i, next - i));
    i = next;
    const std::string_view rest = buf.substr(i);
    bool matched = false;
    bool undecided = false;
    for (const auto& secret : secrets_) {
      if (rest.size() >= secret.size()) {
        if (rest.substr(0, secret.size()) == secret) {
          matched = true;
          out.append(kMask);
          i += secret.size();
          break;
        }
      } else if (!final && std::string_view(secret).substr(0, rest.size()) == rest) {
        undecided = true;  // a longer secret may still complete with the next piece
        break;
      }
    }
    if (undecided) {
      pending_.assign(rest);
      break;
    }
    if (!matched) out.push_back(buf[i++]);
  }
  return out;
}

}  // namespace isol8
