#include "proxy/filtering_proxy.h"

#include <utility>  // before Asio: Boost 1.74's awaitable.hpp uses std::exchange

#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <future>
#include <map>
#include <mutex>
#include <optional>
#include <thread>
#include <type_traits>

#include "proxy/session.h"
#include "proxy/slot_state.h"

namespace isol8::proxy {
namespace {

namespace asio = boost::asio;
using asio::ip::tcp;
using Local = asio::local::stream_protocol;
using boost::system::error_code;

constexpr auto kCloseWait = std::chrono::seconds(5);

Result<std::shared_ptr<const Policy>> compile(const ProxyConfig& config) {
  auto filter = HostFilter::compile(config.filter);
  if (!filter) return std::move(filter).error();
  if (config.limits.max_connections == 0 || config.limits.max_header_bytes < 256) {
    return make_error("proxy limits: max_connections must be positive and max_header_bytes >= 256");
  }
  return std::make_shared<const Policy>(
      Policy{std::move(*filter), config.log_network, config.limits});
}

// Says no to a connection over the slot's limit without keeping any state for it.
void refuse_over_limit(asio::generic::stream_protocol::socket& socket) {
  static constexpr std::string_view kBusy =
      "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nContent-Length: 44\r\n"
      "Connection: close\r\n\r\nisol8: proxy connection limit reached, retry";
  error_code ignored;
  socket.non_blocking(true, ignored);
  socket.write_some(asio::buffer(kBusy), ignored);
  socket.close(ignored);
}

}  // namespace

// One slot as the io thread sees it: its acceptors and weak references to its sessions.
struct Slot {
  std::shared_ptr<SlotState> state;
  std::vector<Listener> bound;
  std::vector<std::shared_ptr<tcp::acceptor>> tcp_acceptors;
  std::vector<std::shared_ptr<Local::acceptor>> unix_acceptors;
  std::vector<std::string> unix_paths;
  std::vector<std::weak_ptr<Session>> sessions;  // io thread only
};

struct FilteringProxy::Impl {
  std::optional<asio::io_context> io{std::in_place, 1};
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work;
  std::thread thread;
  mutable std::mutex mu;  // guards slots and next_id
  std::map<SlotId, std::shared_ptr<Slot>> slots;
  SlotId next_id = kDefaultSlot;

  ~Impl() {
    work.reset();
    io->stop();
    if (thread.joinable()) thread.join();
    // Close listeners and remove socket files before the io_context goes, and with it every
    // suspended coroutine (their sessions release the slot state as they are destroyed).
    for (auto& [id, slot] : slots) close_listeners(*slot);
    slots.clear();
    io.reset();
  }

  static void close_listeners(Slot& slot) {
    error_code ignored;
    for (auto& a : slot.tcp_acceptors) a->close(ignored);
    for (auto& a : slot.unix_acceptors) a->close(ignored);
    for (const std::string& path : slot.unix_paths) ::unlink(path.c_str());
    slot.unix_paths.clear();
  }

  std::shared_ptr<Slot> find(SlotId id) const {
    std::lock_guard lock(mu);
    auto it = slots.find(id);
    return it == slots.end() ? nullptr : it->second;
  }

  // Runs `fn` on the io thread and waits for it.
  template <class Fn>
  void on_io_thread(Fn fn) {
    std::promise<void> done;
    asio::post(*io, [&] {
      fn();
      done.set_value();
    });
    done.get_future().wait();
  }

  void admit(const std::shared_ptr<Slot>& slot, asio::generic::stream_protocol::socket socket) {
    const auto policy = slot->state->policy();
    if (!slot->state->try_open(policy->limits.max_connections)) {
      spdlog::warn("proxy: connection limit ({}) reached, refusing a connection",
                   policy->limits.max_connections);
      refuse_over_limit(socket);
      return;
    }
    auto session = std::make_shared<Session>(std::move(socket), slot->state);
    std::erase_if(slot->sessions, [](const auto& w) { return w.expired(); });
    slot->sessions.push_back(session);
    session->start();
  }

  template <class Acceptor>
  asio::awaitable<void> accept_loop(std::shared_ptr<Acceptor> acceptor,
                                    std::weak_ptr<Slot> weak_slot) {
    asio::steady_timer backoff(acceptor->get_executor());
    for (;;) {
      error_code ec;
      auto socket = co_await acceptor->async_accept(asio::redirect_error(asio::use_awaitable, ec));
      auto slot = weak_slot.lock();
      if (!acceptor->is_open() || !slot) co_return;
      if (ec) {
        // Out of descriptors and the like: wait a little instead of spinning.
        spdlog::warn("proxy: accept failed: {}", ec.message());
        backoff.expires_after(std::chrono::milliseconds(100));
        co_await backoff.async_wait(asio::redirect_error(asio::use_awaitable, ec));
        continue;
      }
      if constexpr (std::is_same_v<Acceptor, tcp::acceptor>) {
        // A response goes out as a header write and body writes: with Nagle, each body waited
        // for the client's delayed ACK of its header, 40 ms per response (apt's index
        // requests: about 0.7 s per `apt-get update` through a veth).
        socket.set_option(tcp::no_delay(true), ec);
      }
      admit(slot, asio::generic::stream_protocol::socket(std::move(socket)));
    }
  }

  Result<void> bind_tcp(Slot& slot, const Listener& l) {
    error_code ec;
    const auto address =
        asio::ip::make_address(l.tcp_address.empty() ? "127.0.0.1" : l.tcp_address, ec);
    if (ec) return make_error("invalid proxy listen address \"" + l.tcp_address + "\"");
    const tcp::endpoint endpoint(address, l.tcp_port);
    auto acceptor = std::make_shared<tcp::acceptor>(*io);
    const std::string where =
        "proxy listener " + endpoint.address().to_string() + ":" + std::to_string(l.tcp_port);
    if (acceptor->open(endpoint.protocol(), ec); ec) return errno_error(where, ec.value());
    acceptor->set_option(asio::socket_base::reuse_address(true), ec);
    if (acceptor->bind(endpoint, ec); ec) return errno_error("while binding " + where, ec.value());
    if (acceptor->listen(asio::socket_base::max_listen_connections, ec); ec) {
      return errno_error("while listening on " + where, ec.value());
    }
    Listener actual = l;
    actual.tcp_address = address.to_string();
    actual.tcp_port = acceptor->local_endpoint().port();
    slot.bound.push_back(actual);
    slot.tcp_acceptors.push_back(std::move(acceptor));
    return ok();
  }

  Result<void> bind_unix(Slot& slot, const Listener& l) {
    const std::string where = "proxy socket " + l.unix_path;
    struct stat st {};
    if (::lstat(l.unix_path.c_str(), &st) == 0) {
      if (!S_ISSOCK(st.st_mode)) return make_error(where + " exists and is not a socket");
      ::unlink(l.unix_path.c_str());
    }
    auto acceptor = std::make_shared<Local::acceptor>(*io);
    error_code ec;
    if (acceptor->open(Local(), ec); ec) return errno_error(where, ec.value());
    if (acceptor->bind(Local::endpoint(l.unix_path), ec); ec) {
      return errno_error("while binding " + where, ec.value());
    }
    slot.unix_paths.push_back(l.unix_path);
    if (::chmod(l.unix_path.c_str(), l.unix_mode) != 0) return errno_error("while chmod " + where);
    if (acceptor->listen(asio::socket_base::max_listen_connections, ec); ec) {
      return errno_error("while listening on " + where, ec.value());
    }
    slot.bound.push_back(l);
    slot.unix_acceptors.push_back(std::move(acceptor));
    return ok();
  }

  Result<SlotId> add_slot(const ProxyConfig& config, const std::vector<Listener>& listeners) {
    auto policy = compile(config);
    if (!policy) return std::move(policy).error();
    auto slot = std::make_shared<Slot>();
    slot->state = std::make_shared<SlotState>(std::move(*policy));
    for (const Listener& l : listeners) {
      auto bound = l.unix_path.empty() ? bind_tcp(*slot, l) : bind_unix(*slot, l);
      if (!bound) {
        close_listeners(*slot);
        return std::move(bound).error();
      }
    }
    SlotId id;
    {
      std::lock_guard lock(mu);
      id = next_id++;
      slots.emplace(id, slot);
    }
    std::weak_ptr<Slot> weak = slot;
    for (auto& a : slot->tcp_acceptors) {
      asio::co_spawn(*io, accept_loop(a, weak), asio::detached);
    }
    for (auto& a : slot->unix_acceptors) {
      asio::co_spawn(*io, accept_loop(a, weak), asio::detached);
    }
    return id;
  }

  void close_connections(const std::shared_ptr<Slot>& slot) {
    on_io_thread([&] {
      for (auto& weak : slot->sessions) {
        if (auto session = weak.lock()) session->abort();
      }
      slot->sessions.clear();
    });
    if (!slot->state->wait_idle(kCloseWait)) {
      spdlog::warn("proxy: connections still open {} s after closing them",
                   std::chrono::seconds(kCloseWait).count());
    }
  }
};

FilteringProxy::FilteringProxy(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
FilteringProxy::~FilteringProxy() = default;

Result<std::unique_ptr<FilteringProxy>> FilteringProxy::start(ProxyConfig config,
                                                              std::vector<Listener> listeners) {
  auto impl = std::make_unique<Impl>();
  auto id = impl->add_slot(config, listeners);
  if (!id) return std::move(id).error();
  impl->work.emplace(impl->io->get_executor());
  impl->thread = std::thread([io = &*impl->io] { io->run(); });
  return std::unique_ptr<FilteringProxy>(new FilteringProxy(std::move(impl)));
}

std::vector<Listener> FilteringProxy::bound(SlotId slot) const {
  auto s = impl_->find(slot);
  return s ? s->bound : std::vector<Listener>{};
}

std::vector<NetworkLogEntry> FilteringProxy::take_logs(SlotId slot) {
  auto s = impl_->find(slot);
  return s ? s->state->take_logs() : std::vector<NetworkLogEntry>{};
}

void FilteringProxy::close_connections(SlotId slot) {
  if (auto s = impl_->find(slot)) impl_->close_connections(s);
}

Result<FilteringProxy::SlotId> FilteringProxy::add_slot(ProxyConfig config,
                                                        std::vector<Listener> listeners) {
  return impl_->add_slot(config, listeners);
}

Result<void> FilteringProxy::reconfigure(SlotId slot, ProxyConfig config) {
  auto s = impl_->find(slot);
  if (!s) return make_error("no proxy slot " + std::to_string(slot));
  auto policy = compile(config);
  if (!policy) return std::move(policy).error();
  s->state->set_policy(std::move(*policy));
  return ok();
}

void FilteringProxy::remove_slot(SlotId slot) {
  std::shared_ptr<Slot> s;
  {
    std::lock_guard lock(impl_->mu);
    auto it = impl_->slots.find(slot);
    if (it == impl_->slots.end()) return;
    s = it->second;
    impl_->slots.erase(it);
  }
  // One trip to the io thread: the listeners and the connections end together.
  size_t aborted = 0;
  impl_->on_io_thread([&] {
    Impl::close_listeners(*s);
    for (auto& weak : s->sessions) {
      if (auto session = weak.lock()) {
        session->abort();
        ++aborted;
      }
    }
    s->sessions.clear();
  });
  if (aborted > 0 && !s->state->wait_idle(kCloseWait)) {
    spdlog::warn("proxy: connections still open {} s after closing them",
                 std::chrono::seconds(kCloseWait).count());
  }
}

}  // namespace isol8::proxy
