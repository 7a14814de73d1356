#include "seccomp/compiler.h"

#include <seccomp.h>
#include <sys/mman.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <utility>

#include <fmt/format.h>

#include "common/unique_fd.h"
#include "seccomp/allow_ranges.h"

namespace isol8 {

SeccompProgram::SeccompProgram(std::vector<sock_filter> instructions,
                               std::vector<std::string> skipped)
    : instructions_(std::move(instructions)), skipped_(std::move(skipped)) {
  point_fprog();
}

SeccompProgram::SeccompProgram(SeccompProgram&& other) noexcept
    : instructions_(std::move(other.instructions_)), skipped_(std::move(other.skipped_)) {
  point_fprog();
  other.point_fprog();
}

SeccompProgram& SeccompProgram::operator=(SeccompProgram&& other) noexcept {
  if (this != &other) {
    instructions_ = std::move(other.instructions_);
    skipped_ = std::move(other.skipped_);
    point_fprog();
    other.point_fprog();
  }
  return *this;
}

void SeccompProgram::point_fprog() {
  fprog_.len = static_cast<unsigned short>(instructions_.size());
  fprog_.filter = instructions_.empty() ? nullptr : instructions_.data();
}

namespace {

struct FilterRelease {
  void operator()(void* ctx) const { seccomp_release(ctx); }
};
using FilterCtx = std::unique_ptr<void, FilterRelease>;

// The kernel refuses longer programs (BPF_MAXINSNS).
constexpr size_t kMaxInstructions = 4096;

uint32_t scmp_action(SeccompAction action, std::optional<uint32_t> errno_ret) {
  switch (action) {
    case SeccompAction::kKillThread:
      return SCMP_ACT_KILL_THREAD;
    case SeccompAction::kKillProcess:
      return SCMP_ACT_KILL_PROCESS;
    case SeccompAction::kTrap:
      return SCMP_ACT_TRAP;
    case SeccompAction::kErrno:
      return SCMP_ACT_ERRNO(errno_ret.value_or(EPERM));
    case SeccompAction::kTrace:
      return SCMP_ACT_TRACE(errno_ret.value_or(EPERM));
    case SeccompAction::kLog:
      return SCMP_ACT_LOG;
    case SeccompAction::kAllow:
      return SCMP_ACT_ALLOW;
  }
  return SCMP_ACT_KILL_PROCESS;
}

scmp_compare scmp_op(SeccompCompare op) {
  switch (op) {
    case SeccompCompare::kNotEqual:
      return SCMP_CMP_NE;
    case SeccompCompare::kLessThan:
      return SCMP_CMP_LT;
    case SeccompCompare::kLessEqual:
      return SCMP_CMP_LE;
    case SeccompCompare::kEqual:
      return SCMP_CMP_EQ;
    case SeccompCompare::kGreaterEqual:
      return SCMP_CMP_GE;
    case SeccompCompare::kGreaterThan:
      return SCMP_CMP_GT;
    case SeccompCompare::kMaskedEqual:
      return SCMP_CMP_MASKED_EQ;
  }
  return SCMP_CMP_EQ;
}

// The Go names (runtime.GOARCH and Docker's aliases) that includes/excludes use for an arch.
std::vector<std::string_view> go_arch_names(uint32_t token) {
  switch (token) {
    case SCMP_ARCH_X86_64:
      return {"amd64", "x86_64"};
    case SCMP_ARCH_X86:
      return {"386", "x86", "i386"};
    case SCMP_ARCH_X32:
      return {"x32"};
    case SCMP_ARCH_AARCH64:
      return {"arm64", "aarch64"};
    case SCMP_ARCH_ARM:
      return {"arm"};
    case SCMP_ARCH_PPC64LE:
      return {"ppc64le"};
    case SCMP_ARCH_S390X:
      return {"s390x"};
    case SCMP_ARCH_S390:
      return {"s390"};
    case SCMP_ARCH_RISCV64:
      return {"riscv64"};
    case SCMP_ARCH_MIPS64:
      return {"mips64"};
    case SCMP_ARCH_MIPSEL64:
      return {"mips64le"};
    default:
      return {};
  }
}

struct KernelVersion {
  unsigned major = 0;
  unsigned minor = 0;
  bool operator>=(const KernelVersion& o) const {
    return major != o.major ? major > o.major : minor >= o.minor;
  }
};

KernelVersion parse_kernel_version(const char* text) {
  KernelVersion v;
  std::sscanf(text, "%u.%u", &v.major, &v.minor);
  return v;
}

KernelVersion running_kernel() {
  struct utsname u {};
  if (::uname(&u) != 0) return {};
  return parse_kernel_version(u.release);
}

bool contains(const std::vector<std::string>& list, const std::vector<std::string_view>& any) {
  return std::any_of(list.begin(), list.end(), [&](const std::string& s) {
    return std::find(any.begin(), any.end(), s) != any.end();
  });
}

// Docker's includes/excludes for a sandbox that holds no capabilities.
bool rule_applies(const SeccompRule& rule, const std::vector<std::string_view>& native_names,
                  const KernelVersion& kernel) {
  if (!rule.excludes.arches.empty() && contains(rule.excludes.arches, native_names)) return false;
  if (!rule.excludes.min_kernel.empty() &&
      kernel >= parse_kernel_version(rule.excludes.min_kernel.c_str())) {
    return false;
  }
  if (!rule.includes.arches.empty() && !contains(rule.includes.arches, native_names)) return false;
  if (!rule.includes.caps.empty()) return false;
  if (!rule.includes.min_kernel.empty() &&
      !(kernel >= parse_kernel_version(rule.includes.min_kernel.c_str()))) {
    return false;
  }
  return true;
}

// The filter's architectures: the native one first, then the profile's for it.
std::vector<std::pair<uint32_t, std::string>> filter_arches(const SeccompProfile& profile) {
  const uint32_t native = seccomp_arch_native();
  std::vector<std::pair<uint32_t, std::string>> arches = {{native, "native"}};
  auto add = [&](const std::string& name) {
    const uint32_t token = *seccomp_arch_token(name);  // validated by the parser
    const bool listed = std::any_of(arches.begin(), arches.end(),
                                    [&](const auto& arch) { return arch.first == token; });
    if (!listed) arches.emplace_back(token, name);
  };
  for (const auto& entry : profile.arch_map) {
    if (*seccomp_arch_token(entry.architecture) != native) continue;
    for (const auto& sub : entry.sub_architectures) add(sub);
  }
  for (const auto& name : profile.architectures) add(name);
  return arches;
}

Result<std::vector<uint32_t>> add_arches(void* ctx, const SeccompProfile& profile) {
  std::vector<uint32_t> tokens;
  for (const auto& [token, name] : filter_arches(profile)) {
    if (!tokens.empty()) {  // seccomp_init added the native one
      if (int rc = seccomp_arch_add(ctx, token); rc < 0) {
        return errno_error(fmt::format("cannot add architecture {}", name), -rc);
      }
    }
    tokens.push_back(token);
  }
  return tokens;
}

// Whether `name` is a real syscall on at least one architecture of the filter.
bool known_syscall(const std::string& name, const std::vector<uint32_t>& arches) {
  if (seccomp_syscall_resolve_name(name.c_str()) == __NR_SCMP_ERROR) return false;
  return std::any_of(arches.begin(), arches.end(), [&](uint32_t arch) {
    return seccomp_syscall_resolve_name_arch(arch, name.c_str()) >= 0;
  });
}

Result<void> add_rule(void* ctx, const SeccompRule& rule, size_t index, uint32_t action,
                      const std::string& name) {
  const int nr = seccomp_syscall_resolve_name(name.c_str());
  std::vector<scmp_arg_cmp> cmps;
  unsigned seen = 0;
  bool repeated_index = false;
  for (const auto& arg : rule.args) {
    repeated_index = repeated_index || (seen & (1u << arg.index)) != 0;
    seen |= 1u << arg.index;
    cmps.push_back(scmp_arg_cmp{arg.index, scmp_op(arg.op), arg.value, arg.value_two});
  }
  auto fail = [&](int rc) {
    return errno_error(fmt::format("syscalls[{}] ({}): cannot add the rule", index, name), -rc);
  };
  if (!repeated_index) {
    int rc = seccomp_rule_add_array(ctx, action, nr, static_cast<unsigned>(cmps.size()),
                                    cmps.empty() ? nullptr : cmps.data());
    if (rc < 0) return fail(rc);
    return ok();
  }
  for (const auto& cmp : cmps) {
    if (int rc = seccomp_rule_add_array(ctx, action, nr, 1, &cmp); rc < 0) return fail(rc);
  }
  return ok();
}

struct BuiltFilter {
  FilterCtx ctx;
  std::vector<std::string> skipped;
};

// Calls `visit(rule, index, action, name)` for every (rule, syscall name) pair that goes into
// the filter; names this kernel, libseccomp or the filter's architectures do not know are
// added to `skipped` instead.
template <typename Visit>
Result<void> for_each_rule(const SeccompProfile& profile, const std::vector<uint32_t>& arches,
                           std::vector<std::string>& skipped, Visit&& visit) {
  const uint32_t def = scmp_action(profile.default_action, profile.default_errno_ret);
  const auto native_names = go_arch_names(seccomp_arch_native());
  const KernelVersion kernel = running_kernel();
  for (size_t i = 0; i < profile.syscalls.size(); ++i) {
    const SeccompRule& rule = profile.syscalls[i];
    if (!rule_applies(rule, native_names, kernel)) continue;
    const uint32_t action = scmp_action(rule.action, rule.errno_ret);
    for (const auto& name : rule.names) {
      if (!known_syscall(name, arches)) {
        if (std::find(skipped.begin(), skipped.end(), name) == skipped.end()) {
          skipped.push_back(name);
        }
        continue;
      }
      if (action == def) continue;
      ISOL8_TRY(visit(rule, i, action, name));
    }
  }
  return ok();
}

// The profile compiled by libseccomp, leaving out the syscalls named in `left_out` (which the
// allow-range front decides).
Result<BuiltFilter> build_filter(const SeccompProfile& profile,
                                 const std::map<std::string, uint32_t>& left_out = {}) {
  const uint32_t def = scmp_action(profile.default_action, profile.default_errno_ret);
  BuiltFilter out{FilterCtx(seccomp_init(def)), {}};
  if (!out.ctx) return make_error("seccomp_init failed (invalid default action?)");
  void* ctx = out.ctx.get();
  if (int rc = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS); rc < 0) {
    return errno_error("cannot set the bad-architecture action", -rc);
  }
  if (int rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0); rc < 0) {
    return errno_error("cannot clear the no_new_privs attribute", -rc);
  }
  // A binary search over syscall numbers instead of a linear chain: large allow-lists cost
  // O(log n) per syscall.
  if (int rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2); rc < 0) {
    return errno_error("cannot enable the binary-tree optimisation", -rc);
  }
  auto arches = add_arches(ctx, profile);
  if (!arches) return std::move(arches).error();
  ISOL8_TRY(for_each_rule(profile, *arches, out.skipped,
                          [&](const SeccompRule& rule, size_t index, uint32_t action,
                              const std::string& name) -> Result<void> {
                            if (left_out.count(name) != 0) return ok();
                            return add_rule(ctx, rule, index, action, name);
                          }));
  return out;
}

// The syscalls the allow-range front can decide alone, by name with their native numbers: those
// whose every rule that applies is an unconditional ALLOW. Empty when the front does not apply:
// a filter with more than the native architecture (leaving a syscall out of libseccomp's part
// would leave it out for the other ABIs too), an ALLOW default (its rules are the exceptions),
// or an architecture whose socket calls libseccomp also matches through a multiplexer.
Result<std::map<std::string, uint32_t>> unconditional_allows(const SeccompProfile& profile) {
  std::map<std::string, uint32_t> allows;
  const uint32_t native = seccomp_arch_native();
  const bool plain_numbering =
      native == SCMP_ARCH_X86_64 || native == SCMP_ARCH_AARCH64 || native == SCMP_ARCH_RISCV64;
  if (!plain_numbering || filter_arches(profile).size() != 1 ||
      profile.default_action == SeccompAction::kAllow) {
    return allows;
  }
  const std::vector<uint32_t> arches = {native};
  std::vector<std::string> skipped;
  std::set<std::string> conditional;
  ISOL8_TRY(for_each_rule(profile, arches, skipped,
                          [&](const SeccompRule& rule, size_t, uint32_t action,
                              const std::string& name) -> Result<void> {
                            const int nr = seccomp_syscall_resolve_name_arch(native, name.c_str());
                            // The front decides numbers below x32's bit only.
                            if (action == SCMP_ACT_ALLOW && rule.args.empty() && nr >= 0 &&
                                nr < 0x40000000) {
                              allows.emplace(name, static_cast<uint32_t>(nr));
                            } else {
                              conditional.insert(name);
                            }
                            return ok();
                          }));
  for (const auto& name : conditional) allows.erase(name);
  return allows;
}

// libseccomp 2.5 exports only to a file descriptor; a memfd keeps it in memory.
Result<std::string> export_to_memory(void* ctx, int (*exporter)(const scmp_filter_ctx, int)) {
  UniqueFd fd(::memfd_create("isol8-seccomp", MFD_CLOEXEC));
  if (!fd) return errno_error("memfd_create");
  if (int rc = exporter(ctx, fd.get()); rc < 0) return errno_error("cannot export the filter", -rc);
  if (::lseek(fd.get(), 0, SEEK_SET) != 0) return errno_error("lseek");
  std::string out;
  char buf[16384];
  for (;;) {
    ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno_error("cannot read the exported filter");
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

}  // namespace

namespace {

Result<std::vector<sock_filter>> export_program(void* ctx) {
  auto bytes = export_to_memory(ctx, seccomp_export_bpf);
  if (!bytes) return std::move(bytes).error();
  if (bytes->empty() || bytes->size() % sizeof(sock_filter) != 0) {
    return make_error(fmt::format("libseccomp exported {} bytes of BPF", bytes->size()));
  }
  std::vector<sock_filter> insns(bytes->size() / sizeof(sock_filter));
  std::copy(bytes->begin(), bytes->end(), reinterpret_cast<char*>(insns.data()));
  return insns;
}

// The allow-range front over libseccomp's program for the rest of the profile; std::nullopt
// where the front does not apply.
Result<std::optional<SeccompProgram>> compile_with_allow_ranges(const SeccompProfile& profile) {
  auto allows = unconditional_allows(profile);
  if (!allows) return std::move(allows).error();
  if (allows->empty()) return std::optional<SeccompProgram>();
  auto built = build_filter(profile, *allows);
  if (!built) return std::move(built).error();
  auto rest = export_program(built->ctx.get());
  if (!rest) return std::move(rest).error();
  std::vector<uint32_t> numbers;
  for (const auto& [name, nr] : *allows) numbers.push_back(nr);
  auto insns = with_allow_ranges(seccomp_arch_native(), std::move(numbers), *rest);
  if (!insns) return std::optional<SeccompProgram>();
  return std::optional<SeccompProgram>(
      SeccompProgram(std::move(*insns), std::move(built->skipped)));
}

}  // namespace

Result<SeccompProgram> compile_seccomp_profile(const SeccompProfile& profile,
                                               SeccompLayout layout) {
  if (layout == SeccompLayout::kAllowRanges) {
    auto ranged = compile_with_allow_ranges(profile);
    if (!ranged) return std::move(ranged).error();
    if (*ranged) {
      if ((*ranged)->size() > kMaxInstructions) {
        return make_error(fmt::format("the filter has {} instructions; the kernel allows {}",
                                      (*ranged)->size(), kMaxInstructions));
      }
      return std::move(**ranged);
    }
  }
  auto built = build_filter(profile);
  if (!built) return std::move(built).error();
  auto insns = export_program(built->ctx.get());
  if (!insns) return std::move(insns).error();
  if (insns->size() > kMaxInstructions) {
    return make_error(fmt::format("the filter has {} instructions; the kernel allows {}",
                                  insns->size(), kMaxInstructions));
  }
  return SeccompProgram(std::move(*insns), std::move(built->skipped));
}

Result<std::string> seccomp_profile_pfc(const SeccompProfile& profile) {
  auto built = build_filter(profile);
  if (!built) return std::move(built).error();
  return export_to_memory(built->ctx.get(), seccomp_export_pfc);
}

}  // namespace isol8
