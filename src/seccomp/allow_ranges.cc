#include "seccomp/allow_ranges.h"

#include <linux/seccomp.h>

#include <algorithm>
#include <cstddef>
#include <limits>

namespace isol8 {
namespace {

constexpr uint32_t kNrOffset = offsetof(seccomp_data, nr);
constexpr uint32_t kArchOffset = offsetof(seccomp_data, arch);
// x86_64's __X32_SYSCALL_BIT; no architecture has syscall numbers this high otherwise, and
// negative numbers (the ones ptrace and skipped syscalls use) are above it as unsigned.
constexpr uint32_t kHighNumbers = 0x40000000;

struct Range {
  uint32_t first;
  uint32_t last;
};

std::vector<Range> ranges_of(std::vector<uint32_t> numbers) {
  std::sort(numbers.begin(), numbers.end());
  numbers.erase(std::unique(numbers.begin(), numbers.end()), numbers.end());
  std::vector<Range> ranges;
  for (uint32_t nr : numbers) {
    if (nr >= kHighNumbers) break;
    if (!ranges.empty() && ranges.back().last + 1 == nr) {
      ranges.back().last = nr;
    } else {
      ranges.push_back({nr, nr});
    }
  }
  return ranges;
}

// The front is emitted with symbolic jump targets, resolved to offsets once its length (and so
// where ALLOW and the rest start) is known.
enum class Target { kNext, kAllow, kRest, kAt };

struct Jump {
  Target target = Target::kNext;
  size_t at = 0;  // for Target::kAt
};

struct Insn {
  uint16_t code;
  uint32_t k;
  Jump when_true;
  Jump when_false;
};

class Front {
 public:
  void load(uint32_t offset) { code_.push_back({BPF_LD | BPF_W | BPF_ABS, offset, {}, {}}); }
  size_t jump(uint16_t op, uint32_t k, Jump when_true, Jump when_false) {
    code_.push_back({static_cast<uint16_t>(BPF_JMP | op | BPF_K), k, when_true, when_false});
    return code_.size() - 1;
  }
  size_t size() const { return code_.size(); }
  Insn& at(size_t i) { return code_[i]; }

  // A binary search over ranges[lo, hi); `nr_at_least` is what the jumps taken to get here
  // already proved about the number.
  void search(const std::vector<Range>& ranges, size_t lo, size_t hi, uint32_t nr_at_least) {
    if (hi - lo == 1) {
      const Range& r = ranges[lo];
      if (nr_at_least < r.first) jump(BPF_JGE, r.first, {}, {Target::kRest});
      jump(BPF_JGT, r.last, {Target::kRest}, {Target::kAllow});
      return;
    }
    const size_t mid = lo + (hi - lo) / 2;
    const size_t split = jump(BPF_JGE, ranges[mid].first, {}, {});
    search(ranges, lo, mid, nr_at_least);
    at(split).when_true = {Target::kAt, size()};
    search(ranges, mid, hi, ranges[mid].first);
  }

  // The instructions, with `allow_at` and `rest_at` as the targets' positions; std::nullopt when
  // an offset does not fit in 8 bits.
  std::optional<std::vector<sock_filter>> resolve(size_t allow_at, size_t rest_at) const {
    std::vector<sock_filter> out;
    out.reserve(code_.size());
    for (size_t i = 0; i < code_.size(); ++i) {
      const Insn& insn = code_[i];
      sock_filter f{insn.code, 0, 0, insn.k};
      if (BPF_CLASS(insn.code) == BPF_JMP) {
        auto offset = [&](const Jump& j) -> std::optional<uint8_t> {
          const size_t target = j.target == Target::kNext    ? i + 1
                                : j.target == Target::kAllow ? allow_at
                                : j.target == Target::kRest  ? rest_at
                                                             : j.at;
          if (target <= i || target - (i + 1) > std::numeric_limits<uint8_t>::max()) {
            return std::nullopt;
          }
          return static_cast<uint8_t>(target - (i + 1));
        };
        auto jt = offset(insn.when_true);
        auto jf = offset(insn.when_false);
        if (!jt || !jf) return std::nullopt;
        f.jt = *jt;
        f.jf = *jf;
      }
      out.push_back(f);
    }
    return out;
  }

 private:
  std::vector<Insn> code_;
};

}  // namespace

std::optional<std::vector<sock_filter>> with_allow_ranges(uint32_t audit_arch,
                                                          std::vector<uint32_t> allowed,
                                                          std::span<const sock_filter> rest) {
  const std::vector<Range> ranges = ranges_of(std::move(allowed));
  if (ranges.empty() || rest.empty()) return std::nullopt;
  Front front;
  front.load(kArchOffset);
  front.jump(BPF_JEQ, audit_arch, {}, {Target::kRest});
  front.load(kNrOffset);
  front.jump(BPF_JGE, kHighNumbers, {Target::kRest}, {});
  front.search(ranges, 0, ranges.size(), 0);
  const size_t allow_at = front.size();
  auto code = front.resolve(allow_at, allow_at + 1);
  if (!code) return std::nullopt;
  code->push_back(sock_filter{BPF_RET | BPF_K, 0, 0, SECCOMP_RET_ALLOW});
  code->insert(code->end(), rest.begin(), rest.end());
  return code;
}

}  // namespace isol8
