#include "support/host_state.h"

#include <dirent.h>
#include <sys/wait.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "network/netns_slot.h"
#include "support/files.h"

namespace isol8::test {

namespace fs = std::filesystem;

pid_t impossible_pid() {
  std::ifstream in("/proc/sys/kernel/pid_max");
  long max = 4194304;
  in >> max;
  return static_cast<pid_t>(max + 1);
}

std::vector<pid_t> all_pids() {
  std::vector<pid_t> pids;
  DIR* dir = ::opendir("/proc");
  if (dir == nullptr) return pids;
  while (dirent* e = ::readdir(dir)) {
    char* end = nullptr;
    const long pid = std::strtol(e->d_name, &end, 10);
    if (end != e->d_name && *end == '\0' && pid > 0) pids.push_back(static_cast<pid_t>(pid));
  }
  ::closedir(dir);
  return pids;
}

long host_real_uid(pid_t pid) {
  std::istringstream in(slurp("/proc/" + std::to_string(pid) + "/status"));
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("Uid:", 0) == 0) {
      std::istringstream fields(line.substr(4));
      long uid = -1;
      fields >> uid;
      return uid;
    }
  }
  return -1;
}

std::string status_field(pid_t pid, const std::string& key) {
  std::istringstream in(slurp("/proc/" + std::to_string(pid) + "/status"));
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(key + ":", 0) == 0) {
      std::string v = line.substr(key.size() + 1);
      v.erase(0, v.find_first_not_of(" \t"));
      return v;
    }
  }
  return "";
}

std::vector<std::string> cmdline_of(pid_t pid) {
  const std::string raw = slurp("/proc/" + std::to_string(pid) + "/cmdline");
  std::vector<std::string> argv;
  size_t i = 0;
  while (i < raw.size()) {
    const size_t nul = raw.find('\0', i);
    const size_t end = nul == std::string::npos ? raw.size() : nul;
    argv.push_back(raw.substr(i, end - i));
    i = end + 1;
  }
  return argv;
}

std::vector<pid_t> children_of(pid_t parent) {
  std::vector<pid_t> out;
  const std::string wanted = std::to_string(parent);
  for (pid_t pid : all_pids()) {
    if (status_field(pid, "PPid") == wanted) out.push_back(pid);
  }
  return out;
}

namespace {

size_t entries_in(const std::string& dir) {
  std::error_code ec;
  size_t n = 0;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) ++n;
  return n;
}

}  // namespace

ProcessFootprint footprint_of(pid_t pid) {
  const std::string proc = "/proc/" + std::to_string(pid);
  ProcessFootprint f;
  f.fds = entries_in(proc + "/fd");
  f.threads = entries_in(proc + "/task");
  f.rss_kb = std::atol(status_field(pid, "VmRSS").c_str());  // "16732 kB"
  return f;
}

std::vector<pid_t> pids_with_host_uid(long uid) {
  std::vector<pid_t> out;
  for (pid_t pid : all_pids()) {
    if (host_real_uid(pid) == uid) out.push_back(pid);
  }
  return out;
}

std::vector<pid_t> pids_with_host_uid_in(long first, long count) {
  std::vector<pid_t> out;
  for (pid_t pid : all_pids()) {
    const long uid = host_real_uid(pid);
    if (uid >= first && uid < first + count) out.push_back(pid);
  }
  return out;
}

std::optional<pid_t> wait_for_process(const std::vector<std::string>& argv,
                                      std::chrono::milliseconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  do {
    for (pid_t pid : all_pids()) {
      if (cmdline_of(pid) == argv) return pid;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  } while (std::chrono::steady_clock::now() < deadline);
  return std::nullopt;
}

bool wait_for_host_uid(long uid, std::chrono::milliseconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  do {
    if (!pids_with_host_uid(uid).empty()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  } while (std::chrono::steady_clock::now() < deadline);
  return false;
}

namespace {

// The inodes of the Unix sockets listening at `socket` (its path or canonical path).
std::set<std::string> listening_socket_inodes(const std::string& socket) {
  std::error_code ec;
  const std::string canonical = fs::weakly_canonical(socket, ec).string();
  std::set<std::string> inodes;
  std::istringstream table(slurp("/proc/net/unix"));
  std::string line;
  while (std::getline(table, line)) {
    std::istringstream f(line);
    std::vector<std::string> cols;
    for (std::string c; f >> c;) cols.push_back(c);
    if (cols.size() >= 8 && (cols[7] == socket || cols[7] == canonical)) inodes.insert(cols[6]);
  }
  return inodes;
}

// Whether process `pid` holds one of the socket inodes open.
bool holds_socket(pid_t pid, const std::set<std::string>& inodes) {
  std::error_code ec;
  const std::string fds = "/proc/" + std::to_string(pid) + "/fd";
  for (fs::directory_iterator it(fds, ec), end; !ec && it != end; it.increment(ec)) {
    std::error_code rl;
    const std::string target = fs::read_symlink(it->path(), rl).string();
    if (target.starts_with("socket:[") && target.size() > 9 &&
        inodes.count(target.substr(8, target.size() - 9))) {
      return true;
    }
  }
  return false;
}

std::vector<std::string> find_docker_daemon_dirs() {
  std::vector<std::string> out;
  const char* host = std::getenv("DOCKER_HOST");
  std::string socket = host && *host ? host : "unix:///var/run/docker.sock";
  if (!socket.starts_with("unix://")) return out;
  socket = socket.substr(7);
  const std::set<std::string> inodes = listening_socket_inodes(socket);
  if (inodes.empty()) return out;
  for (pid_t pid : all_pids()) {
    const std::vector<std::string> argv = cmdline_of(pid);
    if (argv.empty() || fs::path(argv[0]).filename() != "dockerd") continue;
    if (!holds_socket(pid, inodes)) continue;
    std::string data_root = "/var/lib/docker", exec_root = "/var/run/docker";
    for (size_t i = 0; i < argv.size(); ++i) {
      if (argv[i] == "--data-root" && i + 1 < argv.size()) data_root = argv[i + 1];
      if (argv[i].starts_with("--data-root=")) data_root = argv[i].substr(12);
      if (argv[i] == "--exec-root" && i + 1 < argv.size()) exec_root = argv[i + 1];
      if (argv[i].starts_with("--exec-root=")) exec_root = argv[i].substr(12);
    }
    std::error_code ec;
    for (const std::string& d : {data_root, exec_root}) {
      out.push_back(fs::weakly_canonical(d, ec).string() + "/");
    }
    break;
  }
  return out;
}

// The mount point (5th field) of each line of /proc/self/mountinfo, with the line.
template <class Visit>
void for_each_mount(Visit visit) {
  std::istringstream in(slurp("/proc/self/mountinfo"));
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream f(line);
    std::string id, parent, devno, root, point;
    f >> id >> parent >> devno >> root >> point;
    visit(line, id, point);
  }
}

}  // namespace

std::vector<std::string> docker_daemon_dirs() {
  static const std::vector<std::string> dirs = find_docker_daemon_dirs();
  return dirs;
}

bool is_docker_daemon_mount(const std::string& mount_point) {
  for (const std::string& dir : docker_daemon_dirs()) {
    if (mount_point.starts_with(dir)) return true;
  }
  return false;
}

bool is_netns_slot_mount(const std::string& mount_point) {
  const std::string prefix = std::string(NetnsSlot::kDefaultDir) + "/slot-";
  if (!mount_point.starts_with(prefix)) return false;
  const std::string index = mount_point.substr(prefix.size());
  return !index.empty() && index.size() <= 2 &&
         std::all_of(index.begin(), index.end(), [](char c) { return c >= '0' && c <= '9'; }) &&
         std::stoi(index) < 16;
}

namespace {

// The mounts the counts below leave out: the Docker daemon's, and the first at each slot.
class UncountedMounts {
 public:
  bool skip(const std::string& point) {
    if (is_docker_daemon_mount(point)) return true;
    return is_netns_slot_mount(point) && slots_seen_.insert(point).second;
  }

 private:
  std::set<std::string> slots_seen_;
};

}  // namespace

size_t host_mount_count() {
  size_t n = 0;
  UncountedMounts uncounted;
  for_each_mount([&](const std::string&, const std::string&, const std::string& point) {
    if (!uncounted.skip(point)) ++n;
  });
  return n;
}

std::set<std::string> host_mounts() {
  std::set<std::string> out;
  UncountedMounts uncounted;
  for_each_mount([&](const std::string& line, const std::string& id, const std::string& point) {
    if (uncounted.skip(point)) return;
    const auto dash = line.find(" - ");
    std::string type;
    if (dash != std::string::npos) std::istringstream(line.substr(dash + 3)) >> type;
    out.insert(id + " " + point + " " + type);
  });
  return out;
}

std::set<std::string> isol8_cgroups_of(const std::set<pid_t>& owners) {
  std::set<std::string> found;
  std::vector<fs::path> parents = {"/sys/fs/cgroup/isol8"};
  std::error_code ec;
  for (fs::directory_iterator it("/sys/fs/cgroup", ec), end; !ec && it != end; it.increment(ec)) {
    parents.push_back(it->path() / "isol8");
  }
  for (const fs::path& parent : parents) {
    std::error_code ec2;
    for (fs::directory_iterator it(parent, ec2), end; !ec2 && it != end; it.increment(ec2)) {
      const std::string name = it->path().filename().string();
      for (pid_t owner : owners) {
        if (name.rfind("isol8-" + std::to_string(owner) + "-", 0) == 0) {
          found.insert(it->path().string());
        }
      }
    }
  }
  return found;
}

int sh(const std::string& command) {
  const int status = std::system(command.c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

std::string sh_out(const std::string& command) {
  std::string out;
  FILE* p = ::popen(command.c_str(), "r");
  if (p == nullptr) return out;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  ::pclose(p);
  return out;
}

}  // namespace isol8::test
