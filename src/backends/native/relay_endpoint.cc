#include "backends/native/relay_endpoint.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <filesystem>

#include "common/relay_path.h"

namespace isol8 {

Result<std::unique_ptr<RelayEndpoint>> RelayEndpoint::create() {
  auto relay = find_relay_binary();
  if (!relay) return std::move(relay).error();
  UniqueFd exe(::open(relay->c_str(), O_PATH | O_CLOEXEC));
  if (!exe) return errno_error("open " + relay->string());
  std::error_code ec;
  const auto tmp = std::filesystem::temp_directory_path(ec);
  std::string dir = ((ec ? std::filesystem::path("/tmp") : tmp) / "isol8-proxy-XXXXXX").string();
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
