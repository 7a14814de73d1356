#pragma once
// What the root-building commands (setup, build) share: the store (created, locked, reclaimed),
// a build log in <store>/logs, Ctrl-C/SIGTERM as a cancel fd for the build steps, and progress on
// stderr (one rewritten line with the step and elapsed time on a TTY, plain lines otherwise).

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "common/unique_fd.h"
#include "isol8/config.h"
#include "isol8/result.h"
#include "rootfs/builder.h"
#include "rootfs/store.h"

namespace isol8::cli {

// Blocks SIGINT and SIGTERM and delivers them through a signalfd instead.
class TerminationSignalFd {
 public:
  TerminationSignalFd();
  int fd() const { return fd_.get(); }
  int received() const;  // the signal that arrived, or 0 (consumes it)

 private:
  UniqueFd fd_;
};

// The store named by the config (native.rootfsStore), the environment or the default.
std::filesystem::path configured_store_path(const LoadedConfig& config);

// The config's dependencies.<runtime> (packages baked into isol8:<runtime> by `isol8 setup`),
// de-duplicated and sorted.
std::vector<std::string> configured_dependencies(const LoadedConfig& config,
                                                 const std::string& runtime);

class BuildSession {
 public:
  // `what` names the log file: <store>/logs/<what>-<time>-<pid>.log.
  static Result<std::unique_ptr<BuildSession>> open(const LoadedConfig& config,
                                                    const std::string& what);

  const rootfs::RootfsStore& store() const { return store_; }
  rootfs::BuildContext& context() { return ctx_; }
  const std::string& log_path() const { return log_path_; }
  // Clears the progress line (before printing a result line).
  void clear_progress();
  int cancelled_signal() const { return signals_.received(); }

 private:
  BuildSession(rootfs::RootfsStore store) : store_(std::move(store)) {}
  void draw();

  rootfs::RootfsStore store_;
  UniqueFd lock_;
  UniqueFd log_;
  std::string log_path_;
  TerminationSignalFd signals_;
  rootfs::BuildContext ctx_;
  bool tty_ = false;
  bool line_shown_ = false;
  std::string step_;
  std::chrono::steady_clock::time_point step_start_;
};

}  // namespace isol8::cli
