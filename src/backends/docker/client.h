#pragma once
// A typed client for the Docker Engine API endpoints isol8 uses. Version-negotiated: the first
// call asks /_ping for the daemon's API version and every later path is prefixed /v<version>.
// Errors carry the daemon's own message; an unreachable daemon gives
// "Docker is not running or not reachable at <socket>" with a hint.

#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "backends/docker/transport.h"

namespace isol8::docker {

// The newest API version this client is written against (Docker 20.10), and the oldest it
// accepts from a daemon.
inline constexpr std::string_view kClientApiVersion = "1.41";
inline constexpr std::string_view kMinApiVersion = "1.25";

// min(daemon, client); an error when the daemon is older than kMinApiVersion or the version is
// not "<major>.<minor>".
Result<std::string> negotiate_api_version(std::string_view daemon_version);

// Percent-encodes a query parameter value.
std::string url_encode(std::string_view value);

struct ExecResult {
  int exit_code = 0;
  bool running = false;
};

class DockerClient {
 public:
  explicit DockerClient(Endpoint endpoint) : transport_(std::move(endpoint)) {}
  // DOCKER_HOST or the default socket.
  static Result<std::shared_ptr<DockerClient>> from_environment();

  const Endpoint& endpoint() const { return transport_.endpoint(); }

  // GET /_ping; negotiates the API version on first use. Unreachable daemon -> the
  // "Docker is not running..." error.
  Result<void> ping();
  Result<std::string> api_version();
  Result<nlohmann::json> version();

  // Images.
  Result<nlohmann::json> list_images(const nlohmann::json& filters);
  // nullopt when the image does not exist.
  Result<std::optional<nlohmann::json>> inspect_image(const std::string& name);
  // POST /images/create?fromSrc=- with the tar streamed by `producer`; returns the new image id.
  Result<std::string> import_image(const std::string& repo, const std::string& tag,
                                   const std::vector<std::string>& changes,
                                   const BodyProducer& producer);
  Result<void> remove_image(const std::string& name, bool force);

  // Containers.
  Result<nlohmann::json> list_containers(const nlohmann::json& filters, bool all);
  Result<std::string> create_container(const nlohmann::json& config, const std::string& name = {});
  Result<void> start_container(const std::string& id);
  // POST /containers/{id}/attach, hijacked: stdin in, multiplexed stdout/stderr out.
  Result<HijackedStream> attach_container(const std::string& id, bool with_stdin);
  // POST /containers/{id}/wait: blocks until the container exits; returns StatusCode.
  Result<int> wait_container(const std::string& id);
  Result<nlohmann::json> inspect_container(const std::string& id);
  Result<void> kill_container(const std::string& id, std::string_view signal = "KILL");
  Result<void> remove_container(const std::string& id, bool force);
  // GET /containers/{id}/archive?path=: a tar of the path.
  Result<std::string> get_archive(const std::string& id, const std::string& path);
  // PUT /containers/{id}/archive?path=: extracts `tar` under the directory `path`.
  Result<void> put_archive(const std::string& id, const std::string& path, const std::string& tar);
  // GET /containers/{id}/export: a tar of the whole filesystem.
  Result<std::string> export_container(const std::string& id);

  // Exec.
  Result<std::string> create_exec(const std::string& container_id, const nlohmann::json& config);
  // POST /exec/{id}/start, hijacked.
  Result<HijackedStream> start_exec_attached(const std::string& exec_id);
  // POST /exec/{id}/start detached: waits for nothing (use inspect_exec).
  Result<void> start_exec_detached(const std::string& exec_id);
  Result<ExecResult> inspect_exec(const std::string& exec_id);

 private:
  Result<std::string> path(std::string_view rest);
  Result<HttpResponse> call(std::string_view method, std::string_view rest,
                            const std::string& body = {});
  Result<nlohmann::json> call_json(std::string_view method, std::string_view rest,
                                   const std::string& body = {});
  Error unreachable(const Error& cause) const;

  Transport transport_;
  std::mutex mutex_;
  std::optional<std::string> version_;
};

// True when `error` came from an unreachable daemon (the message of DockerClient::ping).
bool is_unreachable(const Error& error);

}  // namespace isol8::docker
