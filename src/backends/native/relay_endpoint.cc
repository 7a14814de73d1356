#include "backends/native/relay_endpoint.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <charconv>
#include <csignal>
#include <cstring>
#include <filesystem>

#include <fmt/format.h>

#include "common/relay_path.h"

namespace isol8 {
namespace {

constexpr const char* kDirPrefix = "isol8-relay-";

std::filesystem::path temp_dir() {
  std::error_code ec;
  auto tmp = std::filesystem::temp_directory_path(ec);
  return ec ? std::filesystem::path("/tmp") : tmp;
}

}  // namespace

size_t RelayEndpoint::reclaim_stale() {
  size_t removed = 0;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(temp_dir(), ec)) {
    const std::string name = entry.path().filename().string();
    if (!name.starts_with(kDirPrefix)) continue;
    struct stat st;
    if (::lstat(entry.path().c_str(), &st) != 0 || !S_ISDIR(st.st_mode) ||
        st.st_uid != ::geteuid()) {
      continue;
    }
    const std::string rest = name.substr(std::strlen(kDirPrefix));
    long pid = 0;
    const auto parsed = std::from_chars(rest.data(), rest.data() + rest.size(), pid);
    if (parsed.ec != std::errc() || parsed.ptr == rest.data() || *parsed.ptr != '-' || pid <= 0) {
      continue;
    }
    // Alive (or not ours to ask about): keep it.
    if (::kill(static_cast<pid_t>(pid), 0) == 0 || errno == EPERM) continue;
    std::error_code rm;
    if (std::filesystem::remove_all(entry.path(), rm) > 0 && !rm) ++removed;
  }
  return removed;
}

Result<std::unique_ptr<RelayEndpoint>> RelayEndpoint::create() {
  auto relay = find_relay_binary();
  if (!relay) return std::move(relay).error();
  UniqueFd exe(::open(relay->c_str(), O_PATH | O_CLOEXEC));
  if (!exe) return errno_error("open " + relay->string());
  std::string dir =
      (temp_dir() / fmt::format("{}{}-XXXXXX", kDirPrefix, static_cast<long>(::getpid()))).string();
  if (::mkdtemp(dir.data()) == nullptr) return errno_error("mkdtemp " + dir);
  std::unique_ptr<RelayEndpoint> endpoint(new RelayEndpoint(dir));
  endpoint->socket_path_ = dir + "/proxy.sock";
  endpoint->relay_exe_ = std::move(exe);
  return endpoint;
}

Result<void> RelayEndpoint::open_socket() {
  socket_.reset(::open(socket_path_.c_str(), O_PATH | O_CLOEXEC | O_NOFOLLOW));
  if (!socket_) return errno_error("open " + socket_path_);
  struct stat st;
  if (::fstat(socket_.get(), &st) != 0 || !S_ISSOCK(st.st_mode)) {
    return make_error(socket_path_ + " is not the proxy's socket");
  }
  return ok();
}

RelayEndpoint::~RelayEndpoint() {
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

}  // namespace isol8
