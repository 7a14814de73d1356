#pragma once
// Pure parsers for cgroup files and /proc/self/mountinfo (unit-tested without any cgroupfs).

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace isol8::cgroups {

// A decimal unsigned integer, surrounding whitespace allowed; nullopt for anything else ("max").
std::optional<uint64_t> parse_u64(std::string_view text);

// "key value" lines (cpu.stat, memory.events, cpuacct.stat, memory.oom_control): key -> value.
// Lines whose value is not a number are skipped.
std::map<std::string, uint64_t> parse_keyed(std::string_view text);

// The words of cgroup.controllers / cgroup.subtree_control.
bool has_word(std::string_view text, std::string_view word);

struct CgroupMounts {
  std::optional<std::filesystem::path> unified;     // the first cgroup2 mount
  std::map<std::string, std::filesystem::path> v1;  // controller -> mount point of its hierarchy
};
// Reads the cgroup2 and cgroup (v1) mounts of a mountinfo text. Co-mounted controllers
// ("cpu,cpuacct") map to the same mount point; named hierarchies (name=systemd) are ignored.
CgroupMounts parse_cgroup_mounts(std::string_view mountinfo);

}  // namespace isol8::cgroups
