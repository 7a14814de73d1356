// The probe: a static program run inside a sandbox that reports what it sees as one JSON object,
// so that tests assert facts (ids, capabilities, mounts, interfaces) rather than shell output.

#include <sys/prctl.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <fstream>
#include <iostream>
#include <sstream>
#include <string>

#include <nlohmann/json.hpp>

extern char** environ;

namespace {

using nlohmann::json;

std::string slurp(const char* path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// "Key:\tvalue" lines of /proc/self/status.
json status_fields() {
  json out = json::object();
  std::istringstream in(slurp("/proc/self/status"));
  std::string line;
  while (std::getline(in, line)) {
    const auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string value = line.substr(colon + 1);
    value.erase(0, value.find_first_not_of(" \t"));
    out[line.substr(0, colon)] = value;
  }
  return out;
}

// Mount point -> {fstype, options} from /proc/self/mountinfo.
json mounts() {
  json out = json::array();
  std::istringstream in(slurp("/proc/self/mountinfo"));
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string id, parent, devno, root, point, opts, token;
    fields >> id >> parent >> devno >> root >> point >> opts;
    while (fields >> token && token != "-") {
    }
    std::string fstype, source, super_opts;
    fields >> fstype >> source >> super_opts;
    out.push_back(
        {{"path", point}, {"fstype", fstype}, {"options", opts}, {"superOptions", super_opts}});
  }
  return out;
}

json interfaces() {
  json out = json::array();
  std::istringstream in(slurp("/proc/net/dev"));
  std::string line;
  int n = 0;
  while (std::getline(in, line)) {
    if (n++ < 2) continue;  // two header lines
    const auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string name = line.substr(0, colon);
    name.erase(0, name.find_first_not_of(' '));
    out.push_back(name);
  }
  return out;
}

}  // namespace

int main() {
  struct utsname uts {};
  uname(&uts);
  char cwd[4096] = {};
  if (getcwd(cwd, sizeof cwd) == nullptr) cwd[0] = '\0';
  const json status = status_fields();
  json report = {
      {"uid", getuid()},
      {"euid", geteuid()},
      {"gid", getgid()},
      {"egid", getegid()},
      {"pid", getpid()},
      {"ppid", getppid()},
      {"hostname", uts.nodename},
      {"cwd", cwd},
      {"uidMap", slurp("/proc/self/uid_map")},
      {"gidMap", slurp("/proc/self/gid_map")},
      {"capabilities",
       {{"inheritable", status.value("CapInh", "")},
        {"permitted", status.value("CapPrm", "")},
        {"effective", status.value("CapEff", "")},
        {"bounding", status.value("CapBnd", "")},
        {"ambient", status.value("CapAmb", "")}}},
      {"noNewPrivs", status.value("NoNewPrivs", "")},
      {"securebits", ::prctl(PR_GET_SECUREBITS, 0, 0, 0, 0)},
      {"seccomp", status.value("Seccomp", "")},
      {"mounts", mounts()},
      {"interfaces", interfaces()},
      {"cgroup", slurp("/proc/self/cgroup")},
  };
  json env = json::object();
  for (char** e = environ; *e != nullptr; ++e) {
    std::string kv(*e);
    const auto eq = kv.find('=');
    env[kv.substr(0, eq)] = eq == std::string::npos ? "" : kv.substr(eq + 1);
  }
  report["env"] = env;
  std::cout << report.dump() << std::endl;
  return 0;
}
