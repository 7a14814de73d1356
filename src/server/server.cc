#include "server/server.h"
#include <utility>

#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <iostream>

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "core/maintenance.h"
#include "isol8/version.h"
#include "server/awaitable.h"
#include "server/blocking_call.h"
#include "server/connection.h"
#include "server/handlers.h"
#include "server/server_state.h"
#include "server/session_engine.h"

namespace isol8::server {
namespace {

namespace asio = boost::asio;
using asio::ip::tcp;
using boost::system::error_code;

asio::awaitable<void> accept_loop(ServerState& state, tcp::acceptor& acceptor) {
  for (;;) {
    error_code ec;
    tcp::socket socket = co_await acceptor.async_accept(with(ec));
    if (ec) {
      if (ec == asio::error::operation_aborted || !acceptor.is_open()) co_return;
      // EMFILE and friends: back off instead of spinning.
      spdlog::warn("accept: {}", ec.message());
      asio::steady_timer pause(state.ioc, std::chrono::milliseconds(100));
      co_await pause.async_wait(with(ec));
      continue;
    }
    if (state.connections >= state.settings.wire.max_connections) {
      socket.close(ec);  // over the connection cap: refused before any byte is read
      continue;
    }
    socket.set_option(tcp::no_delay(true), ec);
    asio::co_spawn(state.ioc, serve_connection(state, std::move(socket)), asio::detached);
  }
}

// The registry's side of pruning, on a maintenance worker (libpq blocks): the pruned sessions'
// rows, and rows of sessions that died with their node or never started here.
asio::awaitable<void> tidy_cluster(ServerState& state, std::vector<std::string> pruned) {
  const std::function<Result<bool>()> tidy = [&state,
                                              pruned = std::move(pruned)]() -> Result<bool> {
    for (const auto& id : pruned) ISOL8_TRY(state.cluster->forget(id));
    ISOL8_TRY(state.cluster->tidy(state.settings.max_container_age_ms, state.sessions.ids()));
    return true;
  };
  if (auto done = co_await run_blocking<bool>(state.ioc, state.maintenance, tidy); !done) {
    spdlog::warn("cluster registry: {}", done.error().message);
  }
}

// A node's heartbeat: peers read a node that stopped beating as down (its sessions answer 503).
asio::awaitable<void> heartbeat_loop(ServerState& state, asio::steady_timer& timer) {
  bool failing = false;
  for (;;) {
    error_code ec;
    timer.expires_after(std::chrono::milliseconds(state.settings.cluster->heartbeat_ms));
    co_await timer.async_wait(with(ec));
    if (ec || state.shutting_down) co_return;
    const std::function<Result<bool>()> beat = [&state]() -> Result<bool> {
      ISOL8_TRY(state.cluster->beat());
      return true;
    };
    auto done = co_await run_blocking<bool>(state.ioc, state.maintenance, beat);
    // Said once per failure spell, not every second.
    if (!done && !failing) spdlog::error("cluster heartbeat: {}", done.error().message);
    if (done && failing) spdlog::info("cluster heartbeat: back");
    failing = !done;
  }
}

asio::awaitable<void> prune_loop(ServerState& state, asio::steady_timer& timer) {
  for (;;) {
    error_code ec;
    timer.expires_after(std::chrono::milliseconds(state.settings.prune_interval_ms));
    co_await timer.async_wait(with(ec));
    if (ec || state.shutting_down) co_return;
    auto idle =
        state.sessions.take_idle(std::chrono::milliseconds(state.settings.max_container_age_ms));
    if (idle.empty()) continue;
    spdlog::info("pruning {} idle session(s)", idle.size());
    std::vector<std::string> ids;
    for (const auto& s : idle) ids.push_back(s.first);
    co_await stop_engines(state, std::move(idle));
    if (state.cluster) co_await tidy_cluster(state, ids);
  }
}

asio::awaitable<void> key_cleanup_loop(ServerState& state, asio::steady_timer& timer) {
  for (;;) {
    error_code ec;
    timer.expires_after(std::chrono::milliseconds(state.settings.key_cleanup_interval_ms));
    co_await timer.async_wait(with(ec));
    if (ec || state.shutting_down) co_return;
    if (auto removed = state.auth.store()->remove_stale(); !removed) {
      spdlog::warn("{}", removed.error().message);
    }
  }
}

asio::awaitable<void> wait_for_executions(ServerState& state, std::chrono::milliseconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  asio::steady_timer tick(state.ioc);
  while (state.executor.running() + state.executor.queued() > 0 &&
         std::chrono::steady_clock::now() < deadline) {
    error_code ec;
    tick.expires_after(std::chrono::milliseconds(50));
    co_await tick.async_wait(with(ec));
  }
}

// After SIGTERM, still serving while /health says "draining", so that the load balancer stops
// sending before the port closes (server.drainMs).
asio::awaitable<void> drain(ServerState& state) {
  const int64_t drain_ms = state.settings.drain_ms.value_or(0);
  if (drain_ms <= 0) co_return;
  state.draining = true;
  if (state.cluster) {
    if (auto marked = state.cluster->set_state("draining"); !marked) {
      spdlog::warn("cluster registry: {}", marked.error().message);
    }
  }
  std::cout << fmt::format("[INFO] Draining for {} ms before shutting down...", drain_ms)
            << std::endl;
  asio::steady_timer wait(state.ioc, std::chrono::milliseconds(drain_ms));
  error_code ec;
  co_await wait.async_wait(with(ec));
}

asio::awaitable<void> shut_down(ServerState& state, tcp::acceptor& acceptor,
                                std::vector<asio::steady_timer*> timers) {
  co_await drain(state);
  std::cout << "[INFO] Shutting down isol8 server..." << std::endl;
  state.shutting_down = true;
  error_code ec;
  acceptor.close(ec);
  for (auto* t : timers) t->cancel();
  co_await wait_for_executions(state, std::chrono::milliseconds(state.settings.shutdown_grace_ms));
  // What is still running after the grace period is killed; it then ends within moments.
  state.cancels.cancel_all();
  co_await wait_for_executions(state, std::chrono::seconds(10));
  auto [stopped, errors] = co_await stop_engines(state, state.sessions.take_all());
  for (const auto& e : errors) spdlog::warn("stopping session {}", e);
  if (stopped > 0) spdlog::info("stopped {} session(s)", stopped);
  // Its sessions' records stay: peers answer for them "node down", after a restart "lost".
  if (state.cluster) {
    if (auto marked = state.cluster->set_state("stopped"); !marked) {
      spdlog::warn("cluster registry: {}", marked.error().message);
    }
  }
  std::cout << "[INFO] Server cleanup complete" << std::endl;
  state.ioc.stop();
}

// What dead runners left on this host, above all a server that was killed (SIGKILL, OOM, a
// crash): its sandboxes died with it, but their cgroups, its filtered networks' slot locks and its
// proxy directories stay. A backend reclaims them too, but only once an execution makes one:
// a restarted server that runs nothing would otherwise leave them for good.
void reclaim_dead_runs_leftovers() {
  Leftovers removed;
  if (auto reclaimed = remove_dead_runs_leftovers(removed); !reclaimed) {
    spdlog::warn("could not remove what dead isol8 runs left: {}", reclaimed.error().message);
  }
  if (removed.cgroups + removed.network_slots + removed.proxy_dirs > 0) {
    spdlog::info(
        "removed what dead isol8 runs left: {} cgroup(s), {} network slot(s), {} proxy "
        "director{}",
        removed.cgroups, removed.network_slots, removed.proxy_dirs,
        removed.proxy_dirs == 1 ? "y" : "ies");
  }
}

// Binds the port, or (upstream, non-TTY) an OS-assigned one when it is in use.
Result<tcp::acceptor> bind(asio::io_context& ioc, const ServerSettings& settings) {
  error_code ec;
  const auto address = asio::ip::make_address(settings.bind_address, ec);
  if (ec) return make_error(fmt::format("Invalid bind address: {}", settings.bind_address));
  tcp::acceptor acceptor(ioc);
  for (uint16_t port : {settings.port, uint16_t{0}}) {
    tcp::endpoint endpoint(address, port);
    acceptor.open(endpoint.protocol(), ec);
    if (ec) return make_error(fmt::format("cannot open a socket: {}", ec.message()));
    acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
    acceptor.bind(endpoint, ec);
    if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
    if (!ec) {
      if (port == 0) {
        std::cerr << fmt::format("[WARN] Port {} is in use. Falling back to available port {}.",
                                 settings.port, acceptor.local_endpoint().port())
                  << std::endl;
      }
      return acceptor;
    }
    acceptor.close();
    if (ec != asio::error::address_in_use) {
      return make_error(
          fmt::format("cannot listen on {}:{}: {}", settings.bind_address, port, ec.message()));
    }
  }
  return make_error("cannot listen on any port");
}

}  // namespace

std::string redact_connection(const std::string& connection) {
  const size_t scheme = connection.find("://");
  const size_t at = connection.find('@');
  if (scheme == std::string::npos || at == std::string::npos || at < scheme) return connection;
  const size_t colon = connection.find(':', scheme + 3);
  if (colon == std::string::npos || colon > at) return connection;
  return connection.substr(0, colon + 1) + "***" + connection.substr(at);
}

int run_server(ServerSettings settings, std::unique_ptr<KeyStore> store) {
  // Before listening, so that no execution of this server runs next to the reclaim.
  reclaim_dead_runs_leftovers();
  asio::io_context ioc(1);
  auto acceptor = bind(ioc, settings);
  if (!acceptor) {
    std::cerr << "[ERR] " << acceptor.error().message << std::endl;
    return 1;
  }
  const bool has_store = store != nullptr;
  std::unique_ptr<ClusterRegistry> cluster;
  if (settings.cluster) {
    auto opened = ClusterRegistry::open(*settings.auth_db, *settings.cluster);
    if (!opened) {
      std::cerr << "[ERR] " << opened.error().message << std::endl;
      return 1;
    }
    cluster = std::move(opened).value();
  }
  ServerState state(std::move(settings), ioc, std::move(store), std::move(cluster));
  const uint16_t port = acceptor->local_endpoint().port();
  std::cout << fmt::format("[INFO] isol8 server v{} listening on http://localhost:{}", kVersion,
                           port)
            << "\n       Auth: Bearer token required" << std::endl;
  if (has_store && state.settings.auth_db) {
    std::cout << "       Auth DB: " << redact_connection(*state.settings.auth_db) << std::endl;
  }
  if (state.cluster) {
    std::cout << fmt::format("       Cluster node: {} at {}", state.settings.cluster->node_id,
                             state.settings.cluster->advertise_url)
              << std::endl;
  }

  asio::steady_timer prune_timer(ioc);
  asio::steady_timer key_timer(ioc);
  asio::steady_timer heartbeat_timer(ioc);
  if (state.cluster) asio::co_spawn(ioc, heartbeat_loop(state, heartbeat_timer), asio::detached);
  asio::co_spawn(ioc, accept_loop(state, *acceptor), asio::detached);
  if (state.settings.auto_prune) {
    asio::co_spawn(ioc, prune_loop(state, prune_timer), asio::detached);
  }
  if (has_store) asio::co_spawn(ioc, key_cleanup_loop(state, key_timer), asio::detached);
  asio::signal_set signals(ioc, SIGINT, SIGTERM);
  signals.async_wait([&](const error_code& ec, int) {
    if (ec) return;
    asio::co_spawn(ioc, shut_down(state, *acceptor, {&prune_timer, &key_timer, &heartbeat_timer}),
                   asio::detached);
  });
  ioc.run();
  return 0;
}

}  // namespace isol8::server
