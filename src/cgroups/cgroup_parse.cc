#include "cgroups/cgroup_parse.h"

#include <charconv>
#include <vector>

namespace isol8::cgroups {
namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  size_t start = 0;
  for (;;) {
    size_t end = s.find(sep, start);
    if (end == std::string_view::npos) {
      out.push_back(s.substr(start));
      return out;
    }
    out.push_back(s.substr(start, end - start));
    start = end + 1;
  }
}

// mountinfo escapes space, tab, newline and backslash as \ooo.
std::string unescape_octal(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 3 < s.size()) {
      int v = 0;
      bool ok = true;
      for (size_t j = 1; j <= 3; ++j) {
        char c = s[i + j];
        if (c < '0' || c > '7') ok = false;
        v = v * 8 + (c - '0');
      }
      if (ok) {
        out.push_back(static_cast<char>(v));
        i += 3;
        continue;
      }
    }
    out.push_back(s[i]);
  }
  return out;
}

}  // namespace

std::optional<uint64_t> parse_u64(std::string_view text) {
  text = trim(text);
  if (text.empty()) return std::nullopt;
  uint64_t v = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || ptr != text.data() + text.size()) return std::nullopt;
  return v;
}

std::map<std::string, uint64_t> parse_keyed(std::string_view text) {
  std::map<std::string, uint64_t> out;
  for (std::string_view line : split(text, '\n')) {
    line = trim(line);
    size_t sp = line.find_first_of(" \t");
    if (sp == std::string_view::npos) continue;
    if (auto v = parse_u64(line.substr(sp + 1))) out[std::string(line.substr(0, sp))] = *v;
  }
  return out;
}

bool has_word(std::string_view text, std::string_view word) {
  for (std::string_view line : split(text, '\n')) {
    for (std::string_view w : split(line, ' ')) {
      if (trim(w) == word) return true;
    }
  }
  return false;
}

CgroupMounts parse_cgroup_mounts(std::string_view mountinfo) {
  CgroupMounts mounts;
  for (std::string_view line : split(mountinfo, '\n')) {
    // id parent major:minor root mount-point options [optional...] - fstype source super-options
    std::vector<std::string_view> f = split(trim(line), ' ');
    size_t dash = 0;
    for (size_t i = 6; i < f.size(); ++i) {
      if (f[i] == "-") {
        dash = i;
        break;
      }
    }
    if (dash == 0 || dash + 1 >= f.size()) continue;
    std::string_view fstype = f[dash + 1];
    std::filesystem::path mount_point = unescape_octal(f[4]);
    if (fstype == "cgroup2") {
      if (!mounts.unified) mounts.unified = mount_point;
    } else if (fstype == "cgroup" && dash + 3 < f.size()) {
      for (std::string_view opt : split(f[dash + 3], ',')) {
        if (opt.empty() || opt == "rw" || opt == "ro" || opt.find('=') != std::string_view::npos) {
          continue;
        }
        mounts.v1.emplace(std::string(opt), mount_point);  // the first mount of a hierarchy wins
      }
    }
  }
  return mounts;
}

}  // namespace isol8::cgroups
