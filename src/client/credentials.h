#pragma once
// ~/.isol8/credentials.json, written by `isol8 login` (mode 0600) and read by remote commands:
// {host, token, expiresAt, keyId}, as upstream.

#include <filesystem>
#include <optional>
#include <string>

#include "isol8/result.h"

namespace isol8::client {

struct Credentials {
  std::string host;  // canonical server URL (ServerUrl::canonical)
  std::string token;
  std::string expires_at;  // ISO 8601, UTC
  std::string key_id;
};

// $HOME/.isol8/credentials.json; nullopt without HOME.
std::optional<std::filesystem::path> credentials_path();

// nullopt when there is no file; an error when it exists but is unreadable or malformed.
Result<std::optional<Credentials>> load_credentials(const std::filesystem::path& path);
// Written whole to a temporary file (0600) and renamed over the old one.
Result<void> save_credentials(const std::filesystem::path& path, const Credentials& credentials);

// Whether an ISO 8601 UTC time ("2026-12-04T10:00:00.000Z") is in the past; false when it
// cannot be read.
bool expired(const std::string& iso_time);

}  // namespace isol8::client
