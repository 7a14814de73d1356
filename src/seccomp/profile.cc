#include "seccomp/profile.h"

#include <seccomp.h>
#include <string.h>

#include <array>
#include <cstdio>
#include <utility>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace isol8 {
namespace {

using nlohmann::json;

constexpr uint32_t kMaxErrno = 4095;  // the kernel clamps SECCOMP_RET_ERRNO data to MAX_ERRNO
constexpr uint32_t kMaxTraceMessage = 0xffff;

constexpr std::array<std::pair<std::string_view, SeccompAction>, 8> kActions = {{
    {"SCMP_ACT_KILL", SeccompAction::kKillThread},
    {"SCMP_ACT_KILL_THREAD", SeccompAction::kKillThread},
    {"SCMP_ACT_KILL_PROCESS", SeccompAction::kKillProcess},
    {"SCMP_ACT_TRAP", SeccompAction::kTrap},
    {"SCMP_ACT_ERRNO", SeccompAction::kErrno},
    {"SCMP_ACT_TRACE", SeccompAction::kTrace},
    {"SCMP_ACT_LOG", SeccompAction::kLog},
    {"SCMP_ACT_ALLOW", SeccompAction::kAllow},
}};

constexpr std::array<std::pair<std::string_view, SeccompCompare>, 7> kCompares = {{
    {"SCMP_CMP_NE", SeccompCompare::kNotEqual},
    {"SCMP_CMP_LT", SeccompCompare::kLessThan},
    {"SCMP_CMP_LE", SeccompCompare::kLessEqual},
    {"SCMP_CMP_EQ", SeccompCompare::kEqual},
    {"SCMP_CMP_GE", SeccompCompare::kGreaterEqual},
    {"SCMP_CMP_GT", SeccompCompare::kGreaterThan},
    {"SCMP_CMP_MASKED_EQ", SeccompCompare::kMaskedEqual},
}};

constexpr std::array<std::pair<std::string_view, uint32_t>, 19> kArches = {{
    {"SCMP_ARCH_X86", SCMP_ARCH_X86},
    {"SCMP_ARCH_X86_64", SCMP_ARCH_X86_64},
    {"SCMP_ARCH_X32", SCMP_ARCH_X32},
    {"SCMP_ARCH_ARM", SCMP_ARCH_ARM},
    {"SCMP_ARCH_AARCH64", SCMP_ARCH_AARCH64},
    {"SCMP_ARCH_MIPS", SCMP_ARCH_MIPS},
    {"SCMP_ARCH_MIPS64", SCMP_ARCH_MIPS64},
    {"SCMP_ARCH_MIPS64N32", SCMP_ARCH_MIPS64N32},
    {"SCMP_ARCH_MIPSEL", SCMP_ARCH_MIPSEL},
    {"SCMP_ARCH_MIPSEL64", SCMP_ARCH_MIPSEL64},
    {"SCMP_ARCH_MIPSEL64N32", SCMP_ARCH_MIPSEL64N32},
    {"SCMP_ARCH_PPC", SCMP_ARCH_PPC},
    {"SCMP_ARCH_PPC64", SCMP_ARCH_PPC64},
    {"SCMP_ARCH_PPC64LE", SCMP_ARCH_PPC64LE},
    {"SCMP_ARCH_S390", SCMP_ARCH_S390},
    {"SCMP_ARCH_S390X", SCMP_ARCH_S390X},
    {"SCMP_ARCH_PARISC", SCMP_ARCH_PARISC},
    {"SCMP_ARCH_PARISC64", SCMP_ARCH_PARISC64},
    {"SCMP_ARCH_RISCV64", SCMP_ARCH_RISCV64},
}};

// The filter flags Docker accepts. isol8 loads filters with prctl(PR_SET_SECCOMP), which takes no
// flags, so they are validated and then have no effect (see compiler.h).
constexpr std::array<std::string_view, 4> kFlags = {
    "SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
    "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"};

template <class T, size_t N>
std::optional<T> lookup(const std::array<std::pair<std::string_view, T>, N>& table,
                        std::string_view name) {
  for (const auto& [key, value] : table) {
    if (key == name) return value;
  }
  return std::nullopt;
}

// "EPERM" -> 1, through glibc's own table of names.
std::optional<uint32_t> errno_from_name(std::string_view name) {
  for (int e = 1; e <= 200; ++e) {
    const char* n = ::strerrorname_np(e);
    if (n != nullptr && name == n) return static_cast<uint32_t>(e);
  }
  return std::nullopt;
}

Result<std::string> get_string(const json& v, const std::string& where) {
  if (!v.is_string()) return make_error(where + " must be a string");
  return v.get<std::string>();
}

// A JSON array of strings; null and absent read as empty.
Result<std::vector<std::string>> get_strings(const json& obj, const char* key,
                                             const std::string& where) {
  std::vector<std::string> out;
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return out;
  if (!it->is_array())
    return make_error(fmt::format("{}.{} must be an array of strings", where, key));
  for (const auto& e : *it) {
    if (!e.is_string()) {
      return make_error(fmt::format("{}.{} must be an array of strings", where, key));
    }
    out.push_back(e.get<std::string>());
  }
  return out;
}

Result<uint64_t> get_u64(const json& v, const std::string& where) {
  if (!v.is_number_unsigned()) return make_error(where + " must be a non-negative integer");
  return v.get<uint64_t>();
}

Result<SeccompAction> parse_action(const json& v, const std::string& where) {
  auto name = get_string(v, where);
  if (!name) return std::move(name).error();
  if (*name == "SCMP_ACT_NOTIFY") {
    return make_error(where + ": SCMP_ACT_NOTIFY is not supported (isol8 runs no seccomp agent)");
  }
  auto action = lookup(kActions, *name);
  if (!action) return make_error(fmt::format("{}: unknown action \"{}\"", where, *name));
  return *action;
}

// errnoRet (a number) or errno (a name such as "ENOSYS"); errnoRet wins when both are present.
Result<std::optional<uint32_t>> parse_errno(const json& obj, const char* number_key,
                                            const char* name_key, SeccompAction action,
                                            const std::string& where) {
  std::optional<uint32_t> out;
  if (auto it = obj.find(number_key); it != obj.end() && !it->is_null()) {
    auto n = get_u64(*it, fmt::format("{}.{}", where, number_key));
    if (!n) return std::move(n).error();
    const uint64_t max = action == SeccompAction::kTrace ? kMaxTraceMessage : kMaxErrno;
    if (*n > max)
      return make_error(fmt::format("{}.{} must be at most {}", where, number_key, max));
    out = static_cast<uint32_t>(*n);
  } else if (auto nit = obj.find(name_key); nit != obj.end() && !nit->is_null()) {
    auto name = get_string(*nit, fmt::format("{}.{}", where, name_key));
    if (!name) return std::move(name).error();
    out = errno_from_name(*name);
    if (!out) return make_error(fmt::format("{}.{}: unknown errno \"{}\"", where, name_key, *name));
  }
  if (out && action != SeccompAction::kErrno && action != SeccompAction::kTrace) {
    return make_error(where + ": errnoRet is only valid with SCMP_ACT_ERRNO or SCMP_ACT_TRACE");
  }
  return out;
}

Result<SeccompFilter> parse_filter(const json& obj, const char* key, const std::string& where) {
  SeccompFilter f;
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return f;
  const std::string at = fmt::format("{}.{}", where, key);
  if (!it->is_object()) return make_error(at + " must be an object");
  auto arches = get_strings(*it, "arches", at);
  if (!arches) return std::move(arches).error();
  f.arches = std::move(*arches);
  auto caps = get_strings(*it, "caps", at);
  if (!caps) return std::move(caps).error();
  f.caps = std::move(*caps);
  if (auto mk = it->find("minKernel"); mk != it->end() && !mk->is_null()) {
    auto v = get_string(*mk, at + ".minKernel");
    if (!v) return std::move(v).error();
    unsigned major = 0, minor = 0;
    char tail = 0;
    if (std::sscanf(v->c_str(), "%u.%u%c", &major, &minor, &tail) != 2) {
      return make_error(fmt::format("{}.minKernel: \"{}\" is not \"major.minor\"", at, *v));
    }
    f.min_kernel = std::move(*v);
  }
  return f;
}

Result<SeccompArg> parse_arg(const json& v, const std::string& where) {
  if (!v.is_object()) return make_error(where + " must be an object");
  SeccompArg arg;
  auto index = get_u64(v.value("index", json()), where + ".index");
  if (!index) return std::move(index).error();
  if (*index > 5) return make_error(where + ".index must be between 0 and 5");
  arg.index = static_cast<unsigned>(*index);
  auto value = get_u64(v.value("value", json(0u)), where + ".value");
  if (!value) return std::move(value).error();
  arg.value = *value;
  auto two = get_u64(v.value("valueTwo", json(0u)), where + ".valueTwo");
  if (!two) return std::move(two).error();
  arg.value_two = *two;
  auto op = get_string(v.value("op", json()), where + ".op");
  if (!op) return std::move(op).error();
  auto cmp = lookup(kCompares, *op);
  if (!cmp) return make_error(fmt::format("{}: unknown operator \"{}\"", where, *op));
  arg.op = *cmp;
  return arg;
}

// "syscalls[3] (ptrace, process_vm_readv, ...)": how errors name a rule.
std::string rule_label(size_t i, const std::vector<std::string>& names) {
  std::string label = fmt::format("syscalls[{}]", i);
  if (names.empty()) return label;
  label += " (" + names[0];
  if (names.size() > 1) label += names.size() == 2 ? ", " + names[1] : ", " + names[1] + ", ...";
  return label + ")";
}

Result<SeccompRule> parse_rule(const json& v, size_t i) {
  if (!v.is_object()) return make_error(fmt::format("syscalls[{}] must be an object", i));
  SeccompRule rule;
  auto names = get_strings(v, "names", fmt::format("syscalls[{}]", i));
  if (!names) return std::move(names).error();
  rule.names = std::move(*names);
  if (auto it = v.find("name"); it != v.end() && !it->is_null()) {  // the pre-1.13 single name
    auto name = get_string(*it, fmt::format("syscalls[{}].name", i));
    if (!name) return std::move(name).error();
    rule.names.push_back(std::move(*name));
  }
  const std::string where = rule_label(i, rule.names);
  if (rule.names.empty()) return make_error(where + ": no syscall names");
  auto action_it = v.find("action");
  if (action_it == v.end()) return make_error(where + ": no action");
  auto action = parse_action(*action_it, where);
  if (!action) return std::move(action).error();
  rule.action = *action;
  auto errno_ret = parse_errno(v, "errnoRet", "errno", rule.action, where);
  if (!errno_ret) return std::move(errno_ret).error();
  rule.errno_ret = *errno_ret;
  if (auto it = v.find("args"); it != v.end() && !it->is_null()) {
    if (!it->is_array()) return make_error(where + ": args must be an array");
    for (size_t a = 0; a < it->size(); ++a) {
      auto arg = parse_arg((*it)[a], fmt::format("{}: args[{}]", where, a));
      if (!arg) return std::move(arg).error();
      rule.args.push_back(*arg);
    }
  }
  auto includes = parse_filter(v, "includes", where);
  if (!includes) return std::move(includes).error();
  rule.includes = std::move(*includes);
  auto excludes = parse_filter(v, "excludes", where);
  if (!excludes) return std::move(excludes).error();
  rule.excludes = std::move(*excludes);
  if (auto it = v.find("comment"); it != v.end() && it->is_string()) rule.comment = *it;
  return rule;
}

Result<std::string> checked_arch(const json& v, const std::string& where) {
  auto name = get_string(v, where);
  if (!name) return std::move(name).error();
  if (!seccomp_arch_token(*name)) {
    return make_error(fmt::format("{}: unknown architecture \"{}\"", where, *name));
  }
  return name;
}

Result<void> parse_arches(const json& doc, SeccompProfile& profile) {
  if (auto it = doc.find("architectures"); it != doc.end() && !it->is_null()) {
    if (!it->is_array()) return make_error("architectures must be an array");
    for (size_t i = 0; i < it->size(); ++i) {
      auto arch = checked_arch((*it)[i], fmt::format("architectures[{}]", i));
      if (!arch) return std::move(arch).error();
      profile.architectures.push_back(std::move(*arch));
    }
  }
  if (auto it = doc.find("archMap"); it != doc.end() && !it->is_null()) {
    if (!it->is_array()) return make_error("archMap must be an array");
    for (size_t i = 0; i < it->size(); ++i) {
      const json& e = (*it)[i];
      const std::string where = fmt::format("archMap[{}]", i);
      if (!e.is_object()) return make_error(where + " must be an object");
      SeccompArchEntry entry;
      auto arch = checked_arch(e.value("architecture", json()), where + ".architecture");
      if (!arch) return std::move(arch).error();
      entry.architecture = std::move(*arch);
      auto subs = get_strings(e, "subArchitectures", where);
      if (!subs) return std::move(subs).error();
      for (auto& sub : *subs) {
        if (!seccomp_arch_token(sub)) {
          return make_error(
              fmt::format("{}.subArchitectures: unknown architecture \"{}\"", where, sub));
        }
        entry.sub_architectures.push_back(std::move(sub));
      }
      profile.arch_map.push_back(std::move(entry));
    }
  }
  return ok();
}

}  // namespace

std::optional<uint32_t> seccomp_arch_token(std::string_view scmp_arch_name) {
  return lookup(kArches, scmp_arch_name);
}

Result<SeccompProfile> parse_seccomp_profile(std::string_view json_text) {
  json doc = json::parse(json_text, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return make_error("invalid JSON");
  if (!doc.is_object()) return make_error("the profile must be a JSON object");
  if (auto it = doc.find("listenerPath"); it != doc.end() && it->is_string() && !it->empty()) {
    return make_error("listenerPath is not supported (isol8 runs no seccomp agent)");
  }

  SeccompProfile profile;
  auto def_it = doc.find("defaultAction");
  if (def_it == doc.end()) return make_error("defaultAction is missing");
  auto def = parse_action(*def_it, "defaultAction");
  if (!def) return std::move(def).error();
  profile.default_action = *def;
  auto def_errno = parse_errno(doc, "defaultErrnoRet", "defaultErrno", *def, "profile");
  if (!def_errno) return std::move(def_errno).error();
  profile.default_errno_ret = *def_errno;

  ISOL8_TRY(parse_arches(doc, profile));

  auto flags = get_strings(doc, "flags", "profile");
  if (!flags) return std::move(flags).error();
  for (const auto& flag : *flags) {
    bool known = false;
    for (auto k : kFlags) known = known || k == flag;
    if (!known) return make_error(fmt::format("flags: unknown flag \"{}\"", flag));
  }
  profile.flags = std::move(*flags);

  if (auto it = doc.find("syscalls"); it != doc.end() && !it->is_null()) {
    if (!it->is_array()) return make_error("syscalls must be an array");
    for (size_t i = 0; i < it->size(); ++i) {
      auto rule = parse_rule((*it)[i], i);
      if (!rule) return std::move(rule).error();
      profile.syscalls.push_back(std::move(*rule));
    }
  }
  return profile;
}

}  // namespace isol8
