#include "backends/docker/pool.h"

#include <spdlog/spdlog.h>

#include "backends/docker/container_spec.h"
#include "backends/docker/demux.h"
#include "backends/docker/exec_call.h"
#include "backends/docker/stream_pump.h"

namespace isol8::docker {

using nlohmann::json;

// Sets $oom to the memory cgroup's oom_kill counter ("" when neither file is readable). Written
// out in both scripts (a raw string cannot span lines inside a macro).
const char* const kOomCountScript = R"SH(oom=
for f in /sys/fs/cgroup/memory.events /sys/fs/cgroup/memory/memory.oom_control; do
  [ -r "$f" ] || continue
  while read -r k v; do [ "$k" = oom_kill ] && oom=$v; done < "$f"
  [ -n "$oom" ] && break
done
[ -n "$oom" ] || exit 3
echo "$oom")SH";

const char* const kPoolCleanupScript = R"SH(oom=
for f in /sys/fs/cgroup/memory.events /sys/fs/cgroup/memory/memory.oom_control; do
  [ -r "$f" ] || continue
  while read -r k v; do [ "$k" = oom_kill ] && oom=$v; done < "$f"
  [ -n "$oom" ] && break
done
[ "${oom:-0}" = 0 ] || { echo "the OOM killer struck in this container ($oom)"; exit 4; }
kill -9 -1 2>/dev/null; kill -9 -1 2>/dev/null
chmod -R u+rwX /sandbox /tmp 2>/dev/null
rm -rf /sandbox/* /sandbox/.[!.]* /sandbox/..?* /tmp/* /tmp/.[!.]* /tmp/..?* 2>/dev/null
shopt -s nullglob dotglob
for i in 1 2 3 4 5 6 7 8 9 10; do
  left=0
  for p in /proc/[0-9]*; do
    [ "$p" = "/proc/$$" ] && continue
    [ -O "$p" ] && { left=1; kill -9 "${p#/proc/}" 2>/dev/null; }
  done
  [ $left = 0 ] && break
  sleep 0.02
done
files=(/sandbox/* /tmp/*)
[ $left = 0 ] && [ ${#files[@]} -eq 0 ])SH";

ContainerPool::ContainerPool(std::shared_ptr<DockerClient> client, PoolStrategy strategy,
                             PoolSize size)
    : client_(std::move(client)), fast_(strategy == PoolStrategy::kFast), size_(size) {
  if (fast_) worker_ = std::thread([this] { worker(); });
}

ContainerPool::~ContainerPool() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (worker_.joinable()) worker_.join();
  std::vector<std::string> all(to_remove_.begin(), to_remove_.end());
  for (auto& [key, e] : entries_) {
    all.insert(all.end(), e.clean.begin(), e.clean.end());
    all.insert(all.end(), e.dirty.begin(), e.dirty.end());
  }
  for (const auto& id : all) {
    if (auto r = client_->remove_container(id, true); !r) {
      spdlog::warn("docker pool: could not remove container {}: {}", id.substr(0, 12),
                   r.error().message);
    }
  }
}

Result<std::string> ContainerPool::create_started(const json& config) {
  auto id = client_->create_container(config);
  if (!id) return id;
  if (auto started = client_->start_container(*id); !started) {
    (void)client_->remove_container(*id, true);
    return std::move(started).error();
  }
  return id;
}

Result<void> ContainerPool::clean(const std::string& id) {
  auto exec = client_->create_exec(id, json{{"AttachStdin", false},
                                            {"AttachStdout", true},
                                            {"AttachStderr", true},
                                            {"Tty", false},
                                            {"User", kSandboxUser},
                                            {"WorkingDir", "/"},
                                            {"Cmd", {"/bin/bash", "-c", kPoolCleanupScript}}});
  if (!exec) return std::move(exec).error();
  auto stream = client_->start_exec_attached(*exec);
  if (!stream) return std::move(stream).error();
  std::string output;
  FrameDemuxer demux([&](FrameStream, std::string_view d) { output.append(d.substr(0, 4096)); });
  auto pumped = pump_stream(*stream, {},
                            std::chrono::steady_clock::now() + std::chrono::seconds(10), -1, demux);
  if (!pumped) return std::move(pumped).error();
  if (pumped->timed_out) return make_error("pool cleanup timed out");
  auto result = client_->inspect_exec(*exec);
  if (!result) return std::move(result).error();
  if (result->exit_code != 0) {
    return make_error(fmt::format("pool cleanup left processes or files behind (exit {}): {}",
                                  result->exit_code, output));
  }
  return ok();
}

Result<std::string> ContainerPool::acquire(const json& config) {
  const std::string key = config.dump();
  std::string dirty;
  {
    std::lock_guard lock(mutex_);
    auto& e = entries_[key];
    if (e.config.is_null()) e.config = config;
    if (!e.clean.empty()) {
      std::string id = std::move(e.clean.front());
      e.clean.pop_front();
      wake_.notify_all();  // replenish in the background
      return id;
    }
    if (!e.dirty.empty()) {
      dirty = std::move(e.dirty.front());
      e.dirty.pop_front();
    }
  }
  if (!dirty.empty()) {
    if (auto cleaned = clean(dirty); cleaned)
      return dirty;
    else
      spdlog::warn("docker pool: removing container {}: {}", dirty.substr(0, 12),
                   cleaned.error().message);
    discard(dirty);
  }
  wake_.notify_all();
  return create_started(config);
}

void ContainerPool::release(const json& config, std::string id) {
  {
    std::lock_guard lock(mutex_);
    auto& e = entries_[config.dump()];
    if (e.config.is_null()) e.config = config;
    if (static_cast<int>(e.dirty.size()) < std::max(size_.dirty, 1)) {
      e.dirty.push_back(std::move(id));
    } else {
      to_remove_.push_back(std::move(id));
    }
  }
  wake_.notify_all();
  if (!fast_) {
    // secure: no background thread; remove the overflow now.
    std::deque<std::string> remove;
    {
      std::lock_guard lock(mutex_);
      remove.swap(to_remove_);
    }
    for (const auto& r : remove) (void)client_->remove_container(r, true);
  }
}

Result<uint64_t> ContainerPool::oom_kills(const std::string& id) {
  return read_oom_kills(*client_, id, kIdleUser);
}

void ContainerPool::discard(const std::string& id) {
  if (auto r = client_->remove_container(id, true); !r) {
    spdlog::warn("docker pool: could not remove container {}: {}", id.substr(0, 12),
                 r.error().message);
  }
}

void ContainerPool::worker() {
  std::unique_lock lock(mutex_);
  for (;;) {
    if (stopping_) return;
    bool did = false;
    if (!to_remove_.empty()) {
      std::string id = std::move(to_remove_.front());
      to_remove_.pop_front();
      lock.unlock();
      discard(id);
      lock.lock();
      continue;
    }
    for (auto& [key, e] : entries_) {
      if (!e.dirty.empty() && static_cast<int>(e.clean.size()) < size_.clean) {
        std::string id = std::move(e.dirty.front());
        e.dirty.pop_front();
        ++e.creating;
        lock.unlock();
        auto cleaned = clean(id);
        if (!cleaned) {
          spdlog::warn("docker pool: removing container {}: {}", id.substr(0, 12),
                       cleaned.error().message);
          discard(id);
        }
        lock.lock();
        --entries_[key].creating;
        if (cleaned) entries_[key].clean.push_back(std::move(id));
        did = true;
        break;
      }
      if (static_cast<int>(e.clean.size()) + e.creating < size_.clean) {
        ++e.creating;
        const json config = e.config;
        lock.unlock();
        auto id = create_started(config);
        if (!id) spdlog::debug("docker pool: could not start a container: {}", id.error().message);
        lock.lock();
        auto& entry = entries_[key];
        --entry.creating;
        if (id) entry.clean.push_back(std::move(*id));
        did = id.has_value();
        break;
      }
    }
    if (!did) wake_.wait(lock);
  }
}

}  // namespace isol8::docker
