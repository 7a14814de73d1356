#pragma once
// What is on the host outside any sandbox: processes and their uids, the mount table, isol8's
// cgroups, the Docker daemon's own mounts. The leak checks compare these before and after a test.

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace isol8::test {

// A pid no process can have: one above the kernel's pid_max.
pid_t impossible_pid();

// Every pid in /proc.
std::vector<pid_t> all_pids();

// The real uid of a process on the host from its /proc/<pid>/status "Uid:" line, or -1.
long host_real_uid(pid_t pid);

// A field of /proc/<pid>/status ("NSpid", "PPid", "State", ...), or "".
std::string status_field(pid_t pid, const std::string& key);

// argv of a process, from /proc/<pid>/cmdline.
std::vector<std::string> cmdline_of(pid_t pid);

// The direct children of a process (their PPid is `parent`).
std::vector<pid_t> children_of(pid_t parent);

// What a process holds, from /proc/<pid>: open descriptors, threads, resident memory.
struct ProcessFootprint {
  size_t fds = 0;
  size_t threads = 0;
  long rss_kb = 0;  // VmRSS
};
ProcessFootprint footprint_of(pid_t pid);

// Host processes whose real uid is `uid` (sandbox processes run as id_map_base + 100).
std::vector<pid_t> pids_with_host_uid(long uid);

// Host processes whose real uid lies in [first, first + count).
std::vector<pid_t> pids_with_host_uid_in(long first, long count);

// The first process whose argv equals `argv`, waiting up to `limit` for it to appear.
std::optional<pid_t> wait_for_process(const std::vector<std::string>& argv,
                                      std::chrono::milliseconds limit);

// Waits up to `limit` for a process with host uid `uid` to exist; true when one does.
bool wait_for_host_uid(long uid, std::chrono::milliseconds limit);

// The data root and exec root (each with a trailing "/") of the Docker daemon at DOCKER_HOST (a
// local Unix socket), from the command line of the dockerd process holding the listening
// socket; empty when there is no such daemon. Looked up once per test process.
std::vector<std::string> docker_daemon_dirs();

// A mount the Docker daemon at DOCKER_HOST made under its own directories: a container's root
// filesystem (<data-root>/overlay2/<id>/merged) while the container exists, a container's network
// namespace (<exec-root>/netns/<id>), which the daemon unmounts lazily, up to a minute after the
// container is gone. They belong to the daemon and come and go with containers of any test
// running at the same time; they are not something a run leaves on the host.
bool is_docker_daemon_mount(const std::string& mount_point);

// Whether `mount_point` is a slot of network namespaces made ahead for the next one-shot CLI run
// (network/netns_slot.h): <dir>/slot-<n>, n < 16. Each run replaces its slot's mount, so its
// mount id changes with every run; the slots are kept between runs by design, as reused cgroup
// slots are. The mount counts below leave out one mount per slot, and count any more stacked on
// it (a leak); netns_slot_live_test and the native network tests check what the slots hold.
bool is_netns_slot_mount(const std::string& mount_point);

// Mounts visible in this (the host's) mount namespace, leaving out the Docker daemon's own and
// one mount per network namespace slot.
size_t host_mount_count();

// The same mounts as "mount-id mount-point fstype" strings.
std::set<std::string> host_mounts();

// The isol8-<owner>-* directories under every cgroup hierarchy's isol8/ directory, for the
// given owner pids (the runner processes that created them).
std::set<std::string> isol8_cgroups_of(const std::set<pid_t>& owners);

// Runs `command` with /bin/sh; its exit code, or -1 when it did not exit.
int sh(const std::string& command);

// Runs `command` with /bin/sh; its stdout.
std::string sh_out(const std::string& command);

}  // namespace isol8::test
