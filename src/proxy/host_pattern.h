#pragma once
// One --allow/--deny host pattern, matched by RE2 so that matching takes time linear in the host
// name whatever the pattern: the host name comes from the sandboxed program, and a backtracking
// engine (std::regex) let `^(a|aa)*$` and a 42-character name stall the shared proxy thread for
// minutes. Semantics follow upstream's `new RegExp(pattern, 'i').test(host)`: case-insensitive,
// unanchored unless the pattern says ^...$. RE2 has no backreferences and no lookaround, so such
// patterns are refused when compiled rather than matched differently.

#include <memory>
#include <string>
#include <string_view>

#include "isol8/result.h"

namespace re2 {
class RE2;
}

namespace isol8::proxy {

// Said after a refused pattern's reason, so that the user knows which syntax applies.
inline constexpr std::string_view kHostPatternSyntaxHint =
    "Host patterns are RE2 regular expressions (JavaScript-like, matched case-insensitively, "
    "without lookaround or backreferences).";

class HostPattern {
 public:
  // Fails with RE2's reason (e.g. "invalid perl operator: (?=") when RE2 cannot compile it.
  static Result<HostPattern> compile(std::string source);

  // True when the pattern matches somewhere in `host` (RegExp.prototype.test).
  bool found_in(std::string_view host) const;

  const std::string& source() const { return source_; }

 private:
  HostPattern(std::string source, std::shared_ptr<const re2::RE2> regex);

  std::string source_;
  std::shared_ptr<const re2::RE2> regex_;  // immutable and thread-safe, so copies share it
};

}  // namespace isol8::proxy
