// The v1 control files that a run's own cgroup (cgroup_v1.cc) and a reused slot
// (cgroup_v1_slots.cc) both read and write.

#include <fcntl.h>
#include <unistd.h>

#include "cgroups/cgroup_impl.h"
#include "cgroups/cgroup_parse.h"

namespace isol8::cgroups {
namespace {

uint64_t ticks_to_usec(uint64_t ticks) {
  long hz = ::sysconf(_SC_CLK_TCK);
  if (hz <= 0) hz = 100;
  return ticks * 1000000 / static_cast<uint64_t>(hz);
}

// The kernel's spelling of "no limit" in each file.
std::string memory_value(uint64_t bytes) { return bytes > 0 ? std::to_string(bytes) : "-1"; }

Result<void> write_memory_limits(const std::filesystem::path& dir, uint64_t bytes) {
  const std::string value = memory_value(bytes);
  const auto limit = dir / "memory.limit_in_bytes";
  const auto memsw = dir / "memory.memsw.limit_in_bytes";  // absent without swap accounting
  auto written = write_control(limit, value);
  if (!written && written.error().code == EINVAL) {
    // Raising the limit above the memory+swap limit: that one goes first.
    ISOL8_TRY(write_control(memsw, value));
    return write_control(limit, value);
  }
  ISOL8_TRY(std::move(written));
  // memory+swap equal to memory: the sandbox cannot swap.
  if (auto r = write_control(memsw, value); !r && r.error().code != ENOENT) return r;
  return ok();
}

}  // namespace

Result<std::vector<UniqueFd>> open_tasks_files(const std::vector<std::filesystem::path>& dirs) {
  std::vector<UniqueFd> files;
  for (const std::filesystem::path& dir : dirs) {
    const std::filesystem::path tasks = dir / "tasks";
    UniqueFd fd(::open(tasks.c_str(), O_WRONLY | O_CLOEXEC));
    if (!fd) return errno_error("open " + tasks.string());
    files.push_back(std::move(fd));
  }
  return files;
}

Result<void> read_v1_counters(const V1Dirs& dirs, CgroupUsage& u) {
  if (auto memory = dirs.find("memory"); memory != dirs.end()) {
    auto oom = read_control(memory->second / "memory.oom_control");
    if (!oom) return std::move(oom).error();
    auto fields = parse_keyed(*oom);
    // "oom_kill" exists since Linux 4.13; before it, under_oom is the best sign left.
    u.oom_kills = fields.count("oom_kill") ? fields["oom_kill"] : 0;
    u.oom_killed = fields.count("oom_kill") ? u.oom_kills > 0 : fields["under_oom"] > 0;
  }
  if (auto pids = dirs.find("pids"); pids != dirs.end()) {
    // pids.events exists since Linux 4.3.
    if (auto text = read_control(pids->second / "pids.events"); text) {
      u.pids_max_hits = parse_keyed(*text)["max"];
    } else if (text.error().code != ENOENT) {
      return std::move(text).error();
    }
  }
  return ok();
}

Result<CgroupUsage> read_v1_usage(const V1Dirs& dirs) {
  CgroupUsage u;
  if (auto memory = dirs.find("memory"); memory != dirs.end()) {
    auto peak = read_u64(memory->second / "memory.max_usage_in_bytes");
    if (!peak) return std::move(peak).error();
    u.memory_peak_bytes = *peak;
  }
  ISOL8_TRY(read_v1_counters(dirs, u));
  if (auto cpuacct = dirs.find("cpuacct"); cpuacct != dirs.end()) {
    auto stat = read_control(cpuacct->second / "cpuacct.stat");
    if (!stat) return std::move(stat).error();
    auto fields = parse_keyed(*stat);  // USER_HZ ticks
    u.cpu_measured = true;
    u.cpu_user_usec = ticks_to_usec(fields["user"]);
    u.cpu_system_usec = ticks_to_usec(fields["system"]);
  }
  return u;
}

Result<void> write_v1_limits(const V1Dirs& dirs, const AppliedLimits& want,
                             const AppliedLimits& have) {
  if (want.memory_bytes != have.memory_bytes) {
    ISOL8_TRY(write_memory_limits(dirs.at("memory"), want.memory_bytes));
  }
  if (want.pids_max != have.pids_max) {
    ISOL8_TRY(write_control(dirs.at("pids") / "pids.max",
                            want.pids_max > 0 ? std::to_string(want.pids_max) : "max"));
  }
  if (want.cpu_quota_usec != have.cpu_quota_usec) {
    const auto& cpu = dirs.at("cpu");
    if (want.cpu_quota_usec > 0) {
      ISOL8_TRY(write_control(cpu / "cpu.cfs_period_us", std::to_string(kCpuPeriodUsec)));
      ISOL8_TRY(write_control(cpu / "cpu.cfs_quota_us", std::to_string(want.cpu_quota_usec)));
    } else {
      ISOL8_TRY(write_control(cpu / "cpu.cfs_quota_us", "-1"));
    }
  }
  return ok();
}

}  // namespace isol8::cgroups
