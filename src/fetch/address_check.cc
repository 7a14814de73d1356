#include "fetch/address_check.h"

#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>

#include <fmt/format.h>

#include "proxy/address_policy.h"

namespace isol8::fetch {
namespace {

// getaddrinfo's answer, shared with the thread that asks for it: the caller may stop waiting
// (its time is up) while the resolver still works, and the thread then finishes on its own.
struct Lookup {
  std::mutex mutex;
  std::condition_variable done_cv;
  bool done = false;
  int status = 0;
  std::vector<IpAddress> addresses;
};

void resolve_into(const std::shared_ptr<Lookup>& lookup, std::string host) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  const int status = ::getaddrinfo(host.c_str(), nullptr, &hints, &found);
  std::vector<IpAddress> addresses;
  for (const addrinfo* a = found; status == 0 && a != nullptr; a = a->ai_next) {
    if (a->ai_family == AF_INET) {
      const auto* in = reinterpret_cast<const sockaddr_in*>(a->ai_addr);
      addresses.emplace_back(boost::asio::ip::address_v4(ntohl(in->sin_addr.s_addr)));
    } else if (a->ai_family == AF_INET6) {
      const auto* in6 = reinterpret_cast<const sockaddr_in6*>(a->ai_addr);
      boost::asio::ip::address_v6::bytes_type bytes;
      std::copy(std::begin(in6->sin6_addr.s6_addr), std::end(in6->sin6_addr.s6_addr),
                bytes.begin());
      addresses.emplace_back(boost::asio::ip::address_v6(bytes, in6->sin6_scope_id));
    }
  }
  if (found != nullptr) ::freeaddrinfo(found);
  std::lock_guard lock(lookup->mutex);
  lookup->status = status;
  lookup->addresses = std::move(addresses);
  lookup->done = true;
  lookup->done_cv.notify_all();
}

}  // namespace

std::optional<IpAddress> literal_address(const std::string& host) {
  std::string text = host;
  if (text.size() >= 2 && text.front() == '[' && text.back() == ']') {
    text = text.substr(1, text.size() - 2);
  }
  boost::system::error_code ec;
  const IpAddress address = boost::asio::ip::make_address(text, ec);
  if (ec) return std::nullopt;
  return address;
}

std::optional<std::string> refused_address(const IpAddress& address) {
  return proxy::refused_reason(address);
}

Result<std::vector<IpAddress>> resolve_checked(const CodeUrl& url,
                                               std::chrono::milliseconds timeout) {
  std::vector<IpAddress> addresses;
  if (auto literal = literal_address(url.host)) {
    addresses.push_back(*literal);
  } else {
    auto lookup = std::make_shared<Lookup>();
    std::thread(resolve_into, lookup, url.host).detach();
    std::unique_lock lock(lookup->mutex);
    if (!lookup->done_cv.wait_for(lock, timeout, [&] { return lookup->done; })) {
      return Error{ETIMEDOUT, "resolving " + url.host + " timed out"};
    }
    if (lookup->status != 0 || lookup->addresses.empty()) {
      return make_error("Failed to resolve code URL host: " + url.host);
    }
    addresses = lookup->addresses;
  }
  // Every answer, not only the first: the connection may use any of them.
  for (const IpAddress& address : addresses) {
    if (auto why = refused_address(address)) {
      return make_error(
          fmt::format("Blocked code URL host: {} ({} is {})", url.host, address.to_string(), *why));
    }
  }
  return addresses;
}

}  // namespace isol8::fetch
