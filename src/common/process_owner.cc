#include "common/process_owner.h"

#include <signal.h>
#include <sys/stat.h>

#include <cerrno>
#include <charconv>
#include <vector>

#include <fmt/format.h>

#include "common/fs_util.h"

namespace isol8 {
namespace {

template <typename T>
std::optional<T> parse_number(std::string_view text) {
  T value{};
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || text.empty()) return std::nullopt;
  return value;
}

}  // namespace

std::string format_owner(const ProcessOwner& owner) {
  return fmt::format("{}/{}/{}/{}", owner.boot_id, owner.pid_ns, static_cast<long>(owner.pid),
                     owner.start_time);
}

std::optional<ProcessOwner> parse_owner(std::string_view text) {
  std::vector<std::string_view> fields;
  size_t from = 0;
  for (;;) {
    const size_t slash = text.find('/', from);
    fields.push_back(text.substr(from, slash == std::string_view::npos ? slash : slash - from));
    if (slash == std::string_view::npos) break;
    from = slash + 1;
  }
  if (fields.size() != 4 || fields[0].empty()) return std::nullopt;
  const auto ns = parse_number<uint64_t>(fields[1]);
  const auto pid = parse_number<long>(fields[2]);
  const auto start = parse_number<uint64_t>(fields[3]);
  if (!ns || !pid || !start || *pid <= 0 || *pid > INT32_MAX) return std::nullopt;
  return ProcessOwner{std::string(fields[0]), *ns, static_cast<pid_t>(*pid), *start};
}

std::optional<uint64_t> parse_stat_start_time(std::string_view stat) {
  // "pid (comm) state ppid ...": the fields after the command name's last ')' start at field 3.
  const size_t paren = stat.rfind(')');
  if (paren == std::string_view::npos) return std::nullopt;
  std::string_view rest = stat.substr(paren + 1);
  constexpr int kStartTimeField = 22;
  int field = 2;
  while (!rest.empty()) {
    const size_t begin = rest.find_first_not_of(' ');
    if (begin == std::string_view::npos) break;
    rest.remove_prefix(begin);
    const size_t end = rest.find_first_of(" \n");
    const std::string_view token = rest.substr(0, end);
    if (++field == kStartTimeField) return parse_number<uint64_t>(token);
    if (end == std::string_view::npos) break;
    rest.remove_prefix(end);
  }
  return std::nullopt;
}

Result<ProcessOwner> current_owner() {
  ProcessOwner self;
  auto boot = read_file("/proc/sys/kernel/random/boot_id");
  if (!boot) return std::move(boot).error();
  self.boot_id = *boot;
  while (!self.boot_id.empty() && (self.boot_id.back() == '\n' || self.boot_id.back() == ' ')) {
    self.boot_id.pop_back();
  }
  if (self.boot_id.empty() || self.boot_id.find('/') != std::string::npos) {
    return make_error("/proc/sys/kernel/random/boot_id holds no boot id");
  }
  struct stat ns;
  if (::stat("/proc/self/ns/pid", &ns) != 0) return errno_error("stat /proc/self/ns/pid");
  self.pid_ns = ns.st_ino;
  self.pid = ::getpid();
  // /proc/self, not /proc/<getpid()>: a /proc of another pid namespace would name another process.
  auto stat = read_file("/proc/self/stat");
  if (!stat) return std::move(stat).error();
  const auto start = parse_stat_start_time(*stat);
  if (!start) return make_error("/proc/self/stat has no start time");
  self.start_time = *start;
  return self;
}

ProcessState probe_process(pid_t pid) {
  ProcessState state;
  state.exists = ::kill(pid, 0) == 0 || errno == EPERM;
  if (!state.exists) return state;
  if (auto stat = read_file(fmt::format("/proc/{}/stat", static_cast<long>(pid)))) {
    state.start_time = parse_stat_start_time(*stat);
  }
  return state;
}

bool owner_is_dead(std::string_view label, const ProcessOwner& self, const ProcessProbe& probe) {
  const auto owner = parse_owner(label);
  if (!owner || owner->boot_id != self.boot_id || owner->pid_ns != self.pid_ns) return false;
  if (owner->pid == self.pid) return owner->start_time != self.start_time;
  const ProcessState state = probe(owner->pid);
  if (!state.exists) return true;
  return state.start_time && *state.start_time != owner->start_time;
}

}  // namespace isol8
