#include "client/credentials.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <ctime>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "common/fs_util.h"
#include "common/unique_fd.h"

namespace isol8::client {

std::optional<std::filesystem::path> credentials_path() {
  const char* home = std::getenv("HOME");
  if (home == nullptr || *home == '\0') return std::nullopt;
  return std::filesystem::path(home) / ".isol8" / "credentials.json";
}

Result<std::optional<Credentials>> load_credentials(const std::filesystem::path& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return std::optional<Credentials>{};
  auto text = read_file(path);
  if (!text) return std::move(text).error();
  const auto j = nlohmann::json::parse(*text, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object() || !j.contains("host") || !j["host"].is_string() || !j.contains("token") ||
      !j["token"].is_string()) {
    return make_error(
        fmt::format("{} is not a credentials file (run isol8 login again)", path.string()));
  }
  Credentials c;
  c.host = j["host"].get<std::string>();
  c.token = j["token"].get<std::string>();
  if (j.contains("expiresAt") && j["expiresAt"].is_string()) {
    c.expires_at = j["expiresAt"].get<std::string>();
  }
  if (j.contains("keyId") && j["keyId"].is_string()) c.key_id = j["keyId"].get<std::string>();
  return std::optional<Credentials>(std::move(c));
}

Result<void> save_credentials(const std::filesystem::path& path, const Credentials& c) {
  std::error_code ec;
  std::filesystem::create_directories(path.parent_path(), ec);
  if (ec) {
    return make_error(
        fmt::format("Cannot create {}: {}", path.parent_path().string(), ec.message()));
  }
  const nlohmann::json j = {
      {"host", c.host}, {"token", c.token}, {"expiresAt", c.expires_at}, {"keyId", c.key_id}};
  const std::string text = j.dump(2) + "\n";
  const std::filesystem::path temp = path.string() + ".tmp";
  UniqueFd fd(::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (!fd)
    return make_error(fmt::format("Cannot write {}: {}", temp.string(), std::strerror(errno)));
  // The mode of an existing temporary file is not changed by open().
  if (::fchmod(fd.get(), 0600) != 0 ||
      ::write(fd.get(), text.data(), text.size()) != static_cast<ssize_t>(text.size()) ||
      ::fsync(fd.get()) != 0) {
    const int err = errno;
    ::unlink(temp.c_str());
    return make_error(fmt::format("Cannot write {}: {}", temp.string(), std::strerror(err)));
  }
  if (::rename(temp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    ::unlink(temp.c_str());
    return make_error(fmt::format("Cannot write {}: {}", path.string(), std::strerror(err)));
  }
  return ok();
}

bool expired(const std::string& iso_time) {
  std::tm tm{};
  if (::strptime(iso_time.c_str(), "%Y-%m-%dT%H:%M:%S", &tm) == nullptr) return false;
  return ::timegm(&tm) < std::time(nullptr);
}

}  // namespace isol8::client
