#pragma once
// The warm container pool of a long-lived engine (reference §5.5, with its bugs fixed): started
// containers that idle (docker-init + `sleep infinity` as nobody) until a run execs its code in
// one. A used container is cleaned before it is handed out again: every uid-100 process killed
// (`kill -9 -1` from an exec running as uid 100, which cannot reach the idle process), /sandbox
// AND /tmp wiped, and the result verified (no uid-100 process, both directories empty); a
// container whose cleanup fails is removed instead. Cleanup never depends on the seccomp mode.
//
//   fast    a background thread cleans dirty containers and keeps `clean` started ones ready
//   secure  nothing runs in the background; a dirty container is cleaned when it is acquired
//
// Keyed by the create request, so runs with different images or settings never share one.
// The destructor removes every container the pool owns.

#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "backends/docker/client.h"
#include "isol8/types.h"

namespace isol8::docker {

// The script of the cleanup exec (bash, as uid 100); exits non-zero when anything is left, or
// when the container's memory cgroup has OOM-killed anything (so that a container handed out
// always starts with an oom_kill counter of 0, which is what oom_kills() is compared against).
extern const char* const kPoolCleanupScript;

// Prints the oom_kill counter of the container's memory cgroup (cgroup v2 memory.events or v1
// memory.oom_control, seen through the container's private cgroup namespace), or exits 3.
extern const char* const kOomCountScript;

class ContainerPool {
 public:
  ContainerPool(std::shared_ptr<DockerClient> client, PoolStrategy strategy, PoolSize size);
  ~ContainerPool();
  ContainerPool(const ContainerPool&) = delete;
  ContainerPool& operator=(const ContainerPool&) = delete;

  // A started, clean container for `config` (created now when none is ready).
  Result<std::string> acquire(const nlohmann::json& config);
  // Gives a used container back; it is cleaned before any reuse (or removed when the pool is
  // full).
  void release(const nlohmann::json& config, std::string id);
  // Removes a container that must not be reused (timed out, cancelled, broken).
  void discard(const std::string& id);
  // How many processes the OOM killer has killed in the container (an exec of kOomCountScript).
  // Containers come out of acquire() with 0.
  Result<uint64_t> oom_kills(const std::string& id);

 private:
  struct Entry {
    nlohmann::json config;
    std::deque<std::string> clean;
    std::deque<std::string> dirty;
    int creating = 0;
  };

  Result<std::string> create_started(const nlohmann::json& config);
  Result<void> clean(const std::string& id);
  void worker();

  std::shared_ptr<DockerClient> client_;
  const bool fast_;
  const PoolSize size_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::map<std::string, Entry> entries_;
  std::deque<std::string> to_remove_;
  bool stopping_ = false;
  std::thread worker_;
};

}  // namespace isol8::docker
