#include "cgroups/cgroup_fs.h"

#include <fcntl.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <thread>

#include "cgroups/cgroup_parse.h"
#include "common/fs_util.h"
#include "common/unique_fd.h"

namespace isol8 {

CgroupFsOps real_cgroup_fs_ops() {
  return CgroupFsOps{
      [](const std::filesystem::path& dir) { return ::mkdir(dir.c_str(), 0755) == 0 ? 0 : errno; },
      [](const std::filesystem::path& dir) { return ::rmdir(dir.c_str()) == 0 ? 0 : errno; },
  };
}

namespace cgroups {

Result<void> validate_name(std::string_view name) {
  bool valid = !name.empty() && name.size() <= 64 && name != "." && name != "..";
  for (char c : name) {
    bool allowed = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                   c == '.' || c == '_' || c == '-';
    valid = valid && allowed;
  }
  if (!valid) {
    return Error{EINVAL, "invalid cgroup name '" + std::string(name) +
                             "': use 1 to 64 characters of [A-Za-z0-9._-]"};
  }
  return ok();
}

std::string dir_name(pid_t owner, std::string_view name) {
  return "isol8-" + std::to_string(owner) + "-" + std::string(name);
}

std::optional<pid_t> owner_pid(std::string_view dir_name) {
  constexpr std::string_view kPrefix = "isol8-";
  if (dir_name.substr(0, kPrefix.size()) != kPrefix) return std::nullopt;
  dir_name.remove_prefix(kPrefix.size());
  size_t dash = dir_name.find('-');
  if (dash == std::string_view::npos || dash + 1 >= dir_name.size()) return std::nullopt;
  auto pid = parse_u64(dir_name.substr(0, dash));
  if (!pid || *pid == 0 || *pid > 0x7fffffff) return std::nullopt;
  for (char c : dir_name.substr(0, dash)) {
    if (c < '0' || c > '9') return std::nullopt;  // parse_u64 allows surrounding spaces
  }
  return static_cast<pid_t>(*pid);
}

namespace {
constexpr std::string_view kKeptMark = "kept-";

// The part of isol8-<pid>-<rest> after the owner's dash; empty for any other name.
std::string_view after_owner(std::string_view dir_name) {
  if (!owner_pid(dir_name)) return {};
  dir_name.remove_prefix(std::string_view("isol8-").size());
  return dir_name.substr(dir_name.find('-') + 1);
}
}  // namespace

std::string kept_dir_name(pid_t owner, std::string_view dir_name) {
  std::string_view rest = after_owner(dir_name);
  if (rest.starts_with(kKeptMark)) rest.remove_prefix(kKeptMark.size());
  return "isol8-" + std::to_string(owner) + "-" + std::string(kKeptMark) + std::string(rest);
}

bool is_kept_dir_name(std::string_view dir_name) {
  return after_owner(dir_name).starts_with(kKeptMark);
}

Result<void> rename_dir(const std::filesystem::path& from, const std::filesystem::path& to) {
  if (::rename(from.c_str(), to.c_str()) != 0) {
    return errno_error("cannot rename " + from.string() + " to " + to.filename().string());
  }
  return ok();
}

uint64_t cpu_quota_usec(double cpus) {
  double quota = std::round(cpus * static_cast<double>(kCpuPeriodUsec));
  return quota < 1000 ? 1000 : static_cast<uint64_t>(quota);
}

AppliedLimits applied_limits(const CgroupLimits& limits) {
  return {limits.memory_bytes, limits.pids_max, limits.cpus > 0 ? cpu_quota_usec(limits.cpus) : 0};
}

std::vector<std::string> enforced_names(const AppliedLimits& limits) {
  std::vector<std::string> names;
  if (limits.memory_bytes > 0) names.push_back("memory");
  if (limits.pids_max > 0) names.push_back("pids");
  if (limits.cpu_quota_usec > 0) names.push_back("cpu");
  return names;
}

bool pid_alive(pid_t pid) {
  if (::kill(pid, 0) != 0 && errno != EPERM) return false;
  // A zombie is dead too: its parent may be slow to reap it (a kept sandbox's init is reaped by
  // whatever adopted it once its runner was gone).
  auto stat = read_control("/proc/" + std::to_string(pid) + "/stat");
  if (!stat) return true;
  const size_t paren = stat->rfind(')');
  return paren == std::string::npos || paren + 2 >= stat->size() || (*stat)[paren + 2] != 'Z';
}

bool file_exists(const std::filesystem::path& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0;
}

Result<void> write_control(const std::filesystem::path& path, std::string_view value) {
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC));
  if (!fd) return errno_error("cannot open " + path.string() + " for writing");
  ssize_t n;
  do {
    n = ::write(fd.get(), value.data(), value.size());
  } while (n < 0 && errno == EINTR);
  if (n < 0) return errno_error("cannot write '" + std::string(value) + "' to " + path.string());
  if (static_cast<size_t>(n) != value.size()) {
    return Error{EIO, "short write of '" + std::string(value) + "' to " + path.string()};
  }
  return ok();
}

Result<std::string> read_control(const std::filesystem::path& path) { return read_file(path); }

Result<uint64_t> read_u64(const std::filesystem::path& path) {
  auto text = read_control(path);
  if (!text) return std::move(text).error();
  auto v = parse_u64(*text);
  if (!v) return Error{EINVAL, "unexpected content in " + path.string() + ": '" + *text + "'"};
  return *v;
}

Result<std::vector<pid_t>> read_procs(const std::filesystem::path& procs_file) {
  auto text = read_control(procs_file);
  if (!text) return std::move(text).error();
  std::vector<pid_t> pids;
  size_t start = 0;
  const std::string& s = *text;
  while (start < s.size()) {
    size_t end = s.find('\n', start);
    if (end == std::string::npos) end = s.size();
    if (auto pid = parse_u64(std::string_view(s).substr(start, end - start)); pid && *pid > 0) {
      pids.push_back(static_cast<pid_t>(*pid));
    }
    start = end + 1;
  }
  return pids;
}

Result<void> make_dir(const CgroupFsOps& ops, const std::filesystem::path& dir, bool may_exist) {
  int err = ops.make_dir(dir);
  if (err == 0 || (err == EEXIST && may_exist)) return ok();
  return errno_error("cannot create cgroup " + dir.string(), err);
}

Result<void> make_sandbox_dir(const CgroupFsOps& ops, const std::filesystem::path& dir) {
  int err = ops.make_dir(dir);
  if (err == ENOENT) {
    ISOL8_TRY(make_dir(ops, dir.parent_path(), /*may_exist=*/true));
    err = ops.make_dir(dir);
  }
  if (err != 0) return errno_error("cannot create cgroup " + dir.string(), err);
  return ok();
}

bool poll_until(std::chrono::milliseconds timeout, const std::function<bool()>& done) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  auto pause = std::chrono::microseconds(200);
  for (;;) {
    if (done()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(pause);
    pause = std::min<std::chrono::microseconds>(pause * 2, std::chrono::milliseconds(10));
  }
}

Result<void> remove_dir(const CgroupFsOps& ops, const std::filesystem::path& dir) {
  int err = 0;
  poll_until(kRemoveTimeout, [&] {
    err = ops.remove_dir(dir);
    return err != EBUSY;
  });
  if (err == 0 || err == ENOENT) return ok();
  return errno_error("cannot remove cgroup " + dir.string(), err);
}

void remove_dirs_logged(const CgroupFsOps& ops, const std::vector<std::filesystem::path>& dirs) {
  for (auto it = dirs.rbegin(); it != dirs.rend(); ++it) {
    if (auto r = remove_dir(ops, *it); !r) spdlog::warn("cgroup cleanup: {}", r.error().message);
  }
}

Result<void> kill_until_empty(const std::vector<std::filesystem::path>& procs_files,
                              std::chrono::milliseconds timeout) {
  std::optional<Error> failure;
  bool empty = poll_until(timeout, [&] {
    bool all_empty = true;
    for (const auto& file : procs_files) {
      auto pids = read_procs(file);
      if (!pids) {
        if (pids.error().code == ENOENT) continue;  // already removed
        failure = std::move(pids).error();
        return true;
      }
      for (pid_t pid : *pids) {
        all_empty = false;
        ::kill(pid, SIGKILL);  // ESRCH: it exited meanwhile
      }
    }
    return all_empty;
  });
  if (failure) return std::move(*failure);
  if (!empty) {
    std::string files;
    for (const auto& file : procs_files) files += (files.empty() ? "" : ", ") + file.string();
    return Error{EBUSY, "processes remain in " + files + " " + std::to_string(timeout.count()) +
                            " ms after SIGKILL"};
  }
  return ok();
}

Result<std::vector<std::filesystem::path>> list_owned_dirs(const std::filesystem::path& root) {
  std::vector<std::filesystem::path> out;
  std::filesystem::path parent = root / kParentDir;
  std::error_code ec;
  std::filesystem::directory_iterator it(parent, ec);
  if (ec) {
    if (ec == std::errc::no_such_file_or_directory) return out;
    return errno_error("cannot list " + parent.string(), ec.value());
  }
  for (; it != std::filesystem::directory_iterator(); it.increment(ec)) {
    std::error_code type_ec;
    if (it->is_directory(type_ec) && owner_pid(it->path().filename().string())) {
      out.push_back(it->path());
    }
  }
  if (ec) return errno_error("cannot list " + parent.string(), ec.value());
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace cgroups
}  // namespace isol8
