#include "core/secret_masker.h"

#include <algorithm>
#include <utility>

namespace isol8 {
namespace {

inline constexpr std::string_view kMask = "***";

using Interval = std::pair<size_t, size_t>;  // [begin, end)

}  // namespace

SecretMasker::SecretMasker(std::vector<std::string> secrets) {
  for (auto& s : secrets) {
    if (!s.empty()) secrets_.push_back(std::move(s));
  }
  std::sort(secrets_.begin(), secrets_.end(),
            [](const auto& a, const auto& b) { return a.size() > b.size(); });
  secrets_.erase(std::unique(secrets_.begin(), secrets_.end()), secrets_.end());
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

// Every occurrence of every secret is found; overlapping occurrences merge into one
// masked span, so no part of any secret stays visible whichever secret starts first. Unless
// `final`, a tail that could still grow into a secret (or into a span) is kept for later.
std::string SecretMasker::scan(std::string_view buf, bool final) {
  std::vector<Interval> found;
  for (const auto& secret : secrets_) {
    for (size_t at = buf.find(secret); at != std::string_view::npos;
         at = buf.find(secret, at + 1)) {
      found.emplace_back(at, at + secret.size());
    }
  }
  std::sort(found.begin(), found.end());
  std::vector<Interval> spans;
  for (const auto& iv : found) {
    if (!spans.empty() && iv.first < spans.back().second) {
      spans.back().second = std::max(spans.back().second, iv.second);
    } else {
      spans.push_back(iv);
    }
  }

  size_t cut = buf.size();
  if (!final) {
    // The earliest position from which the rest of the buffer is a proper prefix of a secret.
    const size_t longest = secrets_.front().size();
    for (size_t p = buf.size() > longest ? buf.size() - longest + 1 : 0; p < buf.size(); ++p) {
      const std::string_view rest = buf.substr(p);
      const bool could_grow = std::any_of(secrets_.begin(), secrets_.end(), [&](const auto& s) {
        return s.size() > rest.size() && std::string_view(s).substr(0, rest.size()) == rest;
      });
      if (could_grow) {
        cut = p;
        break;
      }
    }
    // A span that reaches the held-back tail may still grow: hold it back whole.
    for (const auto& span : spans) {
      if (span.second > cut && span.first < cut) cut = span.first;
    }
  }

  std::string out;
  out.reserve(cut);
  size_t i = 0;
  for (const auto& span : spans) {
    if (span.first >= cut) break;
    out.append(buf.substr(i, span.first - i));
    out.append(kMask);
    i = span.second;
  }
  if (i < cut) out.append(buf.substr(i, cut - i));
  pending_.assign(buf.substr(cut));
  return out;
}

}  // namespace isol8
