#pragma once
// What every handler shares: the settings, the network thread's io_context, the worker pool, the
// sessions, authentication, metrics, and the cancel fds of running executions (for shutdown).
// Handlers and connections run on the one network thread; the members that workers touch are
// thread-safe.

#include <atomic>
#include <memory>
#include <mutex>
#include <set>

#include <boost/asio/io_context.hpp>

#include "server/auth.h"
#include "server/cluster_registry.h"
#include "server/executor.h"
#include "server/metrics.h"
#include "server/server_settings.h"
#include "server/session_registry.h"

namespace isol8::server {

// The cancel fds of running executions: shutdown writes to each once its grace period is over.
class CancelRegistry {
 public:
  void add(int fd);
  void remove(int fd);
  void cancel_all();

 private:
  std::mutex mutex_;
  std::set<int> fds_;
};

inline constexpr int kMaintenanceWorkers = 2;
inline constexpr int kMaintenanceQueue = 4096;

struct ServerState {
  ServerState(ServerSettings s, boost::asio::io_context& io, std::unique_ptr<KeyStore> store,
              std::unique_ptr<ClusterRegistry> registry = nullptr)
      : settings(std::move(s)),
        ioc(io),
        executor(settings.max_concurrent, settings.queue_size),
        maintenance(kMaintenanceWorkers, kMaintenanceQueue),
        sessions(settings.max_sessions),
        auth(settings.master_key, std::move(store)),
        cluster(std::move(registry)) {}

  const ServerSettings settings;
  boost::asio::io_context& ioc;
  Executor executor;
  // File transfers and sandbox teardown, apart from executions so that a full execution pool
  // never holds up a DELETE or a shutdown.
  Executor maintenance;
  SessionRegistry sessions;
  Authenticator auth;
  Metrics metrics;
  CancelRegistry cancels;
  // Where sessions are when this server is one node of several (null otherwise); thread-safe.
  const std::unique_ptr<ClusterRegistry> cluster;
  int connections = 0;         // network thread only
  bool draining = false;       // network thread only: SIGTERM came, /health says so
  bool shutting_down = false;  // network thread only
};

}  // namespace isol8::server
