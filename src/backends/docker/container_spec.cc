#include "backends/docker/container_spec.h"

#include <fmt/format.h>

namespace isol8::docker {

using nlohmann::json;

std::vector<std::string> image_argv(const std::vector<std::string>& argv) {
  std::vector<std::string> out = argv;
  if (!out.empty()) {
    for (std::string_view dir : {"/usr/local/bin/", "/usr/bin/", "/bin/"}) {
      if (out[0].starts_with(dir) && out[0].find('/', dir.size()) == std::string::npos) {
        out[0] = out[0].substr(dir.size());
        break;
      }
    }
  }
  return out;
}

std::vector<std::string> as_sandbox_user(const std::vector<std::string>& cmd) {
  // The bounding set goes first (that needs SETPCAP); changing every uid away from 0 then
  // clears the permitted and effective sets; no-new-privileges keeps them empty across execs.
  std::vector<std::string> out = {
      "setpriv",         "--reuid=100", "--regid=101", "--clear-groups", "--bounding-set=-all",
      "--inh-caps=-all", "--"};
  out.insert(out.end(), cmd.begin(), cmd.end());
  return out;
}

Result<json> make_create_request(const RunSpec& spec, const CreateParams& params) {
  // Pooled and session containers idle as kIdleUser and run everything as execs.
  const bool idle = params.pooled || params.session;
  json host;
  host["ReadonlyRootfs"] = true;
  host["Tmpfs"] = {
      {"/sandbox", fmt::format("rw,exec,nosuid,nodev,size={},uid={},gid={}",
                               spec.sandbox_size_bytes, kSandboxUid, kSandboxGid)},
      {"/tmp", fmt::format("rw,noexec,nosuid,nodev,size={}", spec.tmp_size_bytes)},
  };
  host["CapDrop"] = json::array({"ALL"});
  // Pooled containers idle as kIdleUser, never uid 100, and their runs are execs as uid 100.
  if (!idle) host["CapAdd"] = kInitCapabilities;
  // Docker's default masked paths, plus sysfs and /dev/pts, so that the container shows what
  // the native sandbox shows (found by the security suite): a read-only /sys still describes
  // the host's block devices, buses and kernel (/sys/dev/block/<n> opened), and devpts gave
  // openpty and /dev/ptmx, a terminal the native sandbox does not have (the tty layer is kernel
  // attack surface the code does not need). A masked directory is covered with an empty
  // read-only tmpfs; a path the kernel does not have is skipped. Every top-level /sys directory
  // and every /sys/fs entry of current kernels is masked except /sys/fs/cgroup: the container's
  // own memory cgroup (read-only, private cgroup namespace) is where a pooled run's OOM kill is
  // read from inside the container.
  host["MaskedPaths"] = json::array({"/proc/asound",
                                     "/proc/acpi",
                                     "/proc/kcore",
                                     "/proc/keys",
                                     "/proc/latency_stats",
                                     "/proc/timer_list",
                                     "/proc/timer_stats",
                                     "/proc/sched_debug",
                                     "/proc/scsi",
                                     "/sys/firmware",
                                     "/sys/block",
                                     "/sys/bus",
                                     "/sys/class",
                                     "/sys/dev",
                                     "/sys/devices",
                                     "/sys/hypervisor",
                                     "/sys/kernel",
                                     "/sys/module",
                                     "/sys/power",
                                     "/sys/fs/bpf",
                                     "/sys/fs/btrfs",
                                     "/sys/fs/erofs",
                                     "/sys/fs/ext4",
                                     "/sys/fs/f2fs",
                                     "/sys/fs/fuse",
                                     "/sys/fs/pstore",
                                     "/sys/fs/selinux",
                                     "/sys/fs/smackfs",
                                     "/sys/fs/tmpfs",
                                     "/sys/fs/xfs",
                                     "/sys/fs/virtiofs",
                                     "/sys/fs/nfs",
                                     "/dev/pts"});
  host["SecurityOpt"] = json::array({"no-new-privileges", params.seccomp_profile
                                                              ? "seccomp=" + *params.seccomp_profile
                                                              : "seccomp=unconfined"});
  host["PidsLimit"] = spec.limits.pids;
  host["Memory"] = spec.limits.memory_bytes;
  host["MemorySwap"] = spec.limits.memory_bytes;  // equal: no swap on top of the limit
  host["NanoCpus"] = static_cast<int64_t>(spec.limits.cpus * 1e9);
  host["IpcMode"] = "private";
  // Its own cgroup namespace: on a cgroup v1 host dockerd's default is the host's, and
  // /proc/self/cgroup then shows the host path /docker/<container id> (found by the security
  // suite's CgroupFilesystemIsOutOfReach).
  host["CgroupnsMode"] = "private";
  // docker-init as pid 1: it reaps orphans (a zombie storm, or killed leftovers in a pooled
  // container, would otherwise pile up as uid-100 zombies) and the program does not run as pid
  // 1, which would change its signal semantics (pid 1 ignores signals it has no handler for).
  host["Init"] = true;
  // No container log: isol8 reads the output through the attach stream, and the daemon's
  // default json-file driver would also write every line, JSON-encoded, to the daemon's disk
  // (a program printing short lines got about 1 MB/s through, and the log grows unbounded).
  host["LogConfig"] = {{"Type", "none"}, {"Config", json::object()}};
  switch (spec.network) {
    case NetworkMode::kNone:
      host["NetworkMode"] = "none";
      break;
    case NetworkMode::kHost:
      host["NetworkMode"] = "host";
      break;
    case NetworkMode::kFiltered:
      if (!params.filtered || params.pooled) {
        return make_error(
            "internal error: a filtered docker container needs the proxy socket and relay "
            "mounts, and cannot be pooled");
      }
      // Loopback only: the relay inside reaches the runner's proxy through the socket mount.
      host["NetworkMode"] = "none";
      host["Binds"] = json::array({
          fmt::format("{}:{}:ro", params.filtered->proxy_socket, kProxySocketInContainer),
          fmt::format("{}:{}:ro", params.filtered->relay, kRelayInContainer),
      });
      break;
  }

  json config;
  config["Image"] = spec.image;
  config["Cmd"] = idle ? params.cmd : as_sandbox_user(params.cmd);
  config["Env"] = spec.env;
  if (spec.network == NetworkMode::kFiltered) {
    const std::string url = fmt::format("http://127.0.0.1:{}", kRelayPort);
    for (const char* name : {"HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"}) {
      config["Env"].push_back(fmt::format("{}={}", name, url));
    }
    config["Env"].push_back("NO_PROXY=localhost,127.0.0.1");
    config["Env"].push_back("no_proxy=localhost,127.0.0.1");
  }
  config["WorkingDir"] = "/sandbox";
  config["User"] = idle ? kIdleUser : kInitUser;
  if (spec.network != NetworkMode::kHost) config["Hostname"] = "isol8";
  config["Labels"] = {
      {"isol8.managed", "true"},
      {"isol8.runtime", params.runtime},
      {"isol8.backend", "docker"},
  };
  if (params.pooled) config["Labels"]["isol8.pool"] = "true";
  if (params.session) config["Labels"][kSessionLabel] = "true";
  if (params.persist) {
    config["Labels"]["isol8.persist"] = "true";
  } else if (!params.owner.empty()) {
    config["Labels"][kOwnerLabel] = params.owner;
  }
  config["AttachStdin"] = params.open_stdin;
  config["OpenStdin"] = params.open_stdin;
  config["StdinOnce"] = params.open_stdin;
  config["AttachStdout"] = !idle;
  config["AttachStderr"] = !idle;
  config["Tty"] = false;
  config["StopTimeout"] = 1;
  config["HostConfig"] = std::move(host);
  return config;
}

json make_exec_request(const RunSpec& spec, const std::vector<std::string>& cmd) {
  return json{
      {"AttachStdin", true},  {"AttachStdout", true},
      {"AttachStderr", true}, {"Tty", false},
      {"Cmd", cmd},           {"Env", spec.env},
      {"User", kSandboxUser}, {"WorkingDir", "/sandbox"},
  };
}

}  // namespace isol8::docker
