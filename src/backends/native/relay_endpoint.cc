#include "backends/native/relay_endpoint.h"

#include <fcntl.h>
#include <sys/stat.h>

#include <filesystem>

#include "common/companion_binaries.h"
#include "common/pid_dirs.h"

namespace isol8 {
namespace {

constexpr const char* kDirPrefix = "isol8-relay-";

}  // namespace

size_t RelayEndpoint::reclaim_stale() { return remove_dead_pid_dirs(kDirPrefix); }

Result<std::unique_ptr<RelayEndpoint>> RelayEndpoint::create() {
  auto relay = find_relay_binary();
  if (!relay) return std::move(relay).error();
  UniqueFd exe(::open(relay->c_str(), O_PATH | O_CLOEXEC));
  if (!exe) return errno_error("open " + relay->string());
  auto dir = make_pid_dir(kDirPrefix);
  if (!dir) return std::move(dir).error();
  std::unique_ptr<RelayEndpoint> endpoint(new RelayEndpoint(*dir));
  endpoint->socket_path_ = *dir + "/proxy.sock";
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
