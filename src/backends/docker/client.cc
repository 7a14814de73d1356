#include "backends/docker/client.h"

#include <charconv>
#include <sstream>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

namespace isol8::docker {
namespace {

using nlohmann::json;

struct ApiVersion {
  int major = 0;
  int minor = 0;
  auto operator<=>(const ApiVersion&) const = default;
};

std::optional<ApiVersion> parse_version(std::string_view text) {
  const auto dot = text.find('.');
  if (dot == std::string_view::npos) return std::nullopt;
  ApiVersion v;
  auto [p1, e1] = std::from_chars(text.data(), text.data() + dot, v.major);
  auto [p2, e2] = std::from_chars(text.data() + dot + 1, text.data() + text.size(), v.minor);
  if (e1 != std::errc() || e2 != std::errc() || p1 != text.data() + dot ||
      p2 != text.data() + text.size()) {
    return std::nullopt;
  }
  return v;
}

constexpr std::string_view kUnreachable = "Docker is not running or not reachable at ";

}  // namespace

Result<std::string> negotiate_api_version(std::string_view daemon_version) {
  const auto daemon = parse_version(daemon_version);
  if (!daemon) {
    return make_error(
        fmt::format("The Docker daemon reports an invalid API version \"{}\"", daemon_version));
  }
  const auto client = *parse_version(kClientApiVersion);
  const auto minimum = *parse_version(kMinApiVersion);
  if (*daemon < minimum) {
    return make_error(fmt::format(
        "The Docker daemon speaks API {}, older than the {} isol8 needs; upgrade Docker",
        daemon_version, kMinApiVersion));
  }
  return std::string(*daemon < client ? daemon_version : kClientApiVersion);
}

std::string url_encode(std::string_view value) {
  std::string out;
  for (unsigned char c : value) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += fmt::format("%{:02X}", c);
    }
  }
  return out;
}

bool is_unreachable(const Error& error) { return error.message.starts_with(kUnreachable); }

Result<std::shared_ptr<DockerClient>> DockerClient::from_environment() {
  auto ep = endpoint_from_environment();
  if (!ep) return std::move(ep).error();
  return std::make_shared<DockerClient>(std::move(*ep));
}

Error DockerClient::unreachable(const Error& cause) const {
  return Error{cause.code,
               fmt::format("{}{} ({}). Start the daemon (e.g. `systemctl start docker`), or set "
                           "DOCKER_HOST to where it listens.",
                           kUnreachable, endpoint().display(), cause.message)};
}

Result<void> DockerClient::ping() {
  auto version = api_version();
  if (!version) return std::move(version).error();
  return ok();
}

Result<std::string> DockerClient::api_version() {
  std::lock_guard lock(mutex_);
  if (version_) return *version_;
  auto response = transport_.request("GET", "/_ping");
  if (!response) {
    if (response.error().message.starts_with(kConnectFailed)) {
      return unreachable(response.error());
    }
    return std::move(response).error().context("Docker /_ping");
  }
  if (response->status != 200) {
    return make_error(fmt::format("Docker /_ping failed: {}", daemon_message(*response)));
  }
  // The ping reply names the daemon's API version; daemons too old to say are too old for us.
  const auto it = response->headers.find("api-version");
  if (it == response->headers.end()) {
    return make_error("The Docker daemon did not report its API version (Docker too old?)");
  }
  auto negotiated = negotiate_api_version(it->second);
  if (!negotiated) return std::move(negotiated).error();
  spdlog::debug("docker: daemon API {}, using {}", it->second, *negotiated);
  version_ = *negotiated;
  return *version_;
}

Result<std::string> DockerClient::path(std::string_view rest) {
  auto version = api_version();
  if (!version) return std::move(version).error();
  return fmt::format("/v{}{}", *version, rest);
}

Result<HttpResponse> DockerClient::call(std::string_view method, std::string_view rest,
                                        const std::string& body) {
  auto target = path(rest);
  if (!target) return std::move(target).error();
  auto response = transport_.request(method, *target, body);
  if (!response && response.error().message.starts_with(kConnectFailed)) {
    return unreachable(response.error());
  }
  return response;
}

Result<json> DockerClient::call_json(std::string_view method, std::string_view rest,
                                     const std::string& body) {
  auto response = call(method, rest, body);
  if (!response) return std::move(response).error();
  if (response->status >= 400) {
    return Error{response->status, fmt::format("Docker: {}", daemon_message(*response))};
  }
  if (response->body.empty()) return json();
  auto parsed = json::parse(response->body, nullptr, false);
  if (parsed.is_discarded()) {
    return make_error(fmt::format("Docker {} {} returned invalid JSON", method, rest));
  }
  return parsed;
}

Result<json> DockerClient::version() { return call_json("GET", "/version"); }

Result<json> DockerClient::list_images(const json& filters) {
  return call_json("GET", "/images/json?filters=" + url_encode(filters.dump()));
}

Result<std::optional<json>> DockerClient::inspect_image(const std::string& name) {
  auto response = call("GET", "/images/" + url_encode(name) + "/json");
  if (!response) return std::move(response).error();
  if (response->status == 404) return std::optional<json>();
  if (response->status >= 400) {
    return make_error(fmt::format("Docker: {}", daemon_message(*response)));
  }
  auto parsed = json::parse(response->body, nullptr, false);
  if (!parsed.is_object()) return make_error("Docker image inspect returned invalid JSON");
  return std::optional<json>(std::move(parsed));
}

Result<std::string> DockerClient::import_image(const std::string& repo, const std::string& tag,
                                               const std::vector<std::string>& changes,
                                               const BodyProducer& producer) {
  std::string rest =
      fmt::format("/images/create?fromSrc=-&repo={}&tag={}", url_encode(repo), url_encode(tag));
  for (const auto& change : changes) rest += "&changes=" + url_encode(change);
  auto target = path(rest);
  if (!target) return std::move(target).error();
  auto response = transport_.request_streamed("POST", *target, "application/x-tar", producer);
  if (!response) return std::move(response).error().context("importing " + repo + ":" + tag);
  if (response->status >= 400) {
    return make_error(fmt::format("Docker image import failed: {}", daemon_message(*response)));
  }
  // The body is a stream of JSON progress messages; an error can arrive with status 200.
  std::istringstream lines(response->body);
  std::string line;
  std::string id;
  json last;
  while (std::getline(lines, line)) {
    if (line.empty()) continue;
    auto msg = json::parse(line, nullptr, false);
    if (!msg.is_object()) continue;
    if (msg.contains("error")) {
      return make_error(
          fmt::format("Docker image import failed: {}", msg["error"].get<std::string>()));
    }
    if (msg.contains("status") && msg["status"].is_string()) id = msg["status"];
  }
  if (id.empty()) return make_error("Docker image import returned no image id");
  return id;
}

Result<void> DockerClient::remove_image(const std::string& name, bool force) {
  auto r = call_json(
      "DELETE", fmt::format("/images/{}?force={}", url_encode(name), force ? "true" : "false"));
  if (!r) return std::move(r).error();
  return ok();
}

Result<json> DockerClient::list_containers(const json& filters, bool all) {
  return call_json("GET", fmt::format("/containers/json?all={}&filters={}", all ? "true" : "false",
                                      url_encode(filters.dump())));
}

Result<std::string> DockerClient::create_container(const json& config, const std::string& name) {
  auto r =
      call_json("POST", "/containers/create" + (name.empty() ? "" : "?name=" + url_encode(name)),
                config.dump());
  if (!r) return std::move(r).error();
  if (!r->contains("Id")) return make_error("Docker container create returned no Id");
  return (*r)["Id"].get<std::string>();
}

Result<void> DockerClient::start_container(const std::string& id) {
  auto r = call_json("POST", "/containers/" + id + "/start");
  if (!r) return std::move(r).error();
  return ok();
}

Result<HijackedStream> DockerClient::attach_container(const std::string& id, bool with_stdin) {
  auto target = path(fmt::format("/containers/{}/attach?stream=1&stdout=1&stderr=1&stdin={}", id,
                                 with_stdin ? 1 : 0));
  if (!target) return std::move(target).error();
  auto stream = transport_.hijack("POST", *target, {});
  if (!stream) return std::move(stream).error().context("Docker attach");
  return stream;
}

Result<int> DockerClient::wait_container(const std::string& id) {
  auto r = call_json("POST", "/containers/" + id + "/wait");
  if (!r) return std::move(r).error();
  return r->value("StatusCode", 1);
}

Result<json> DockerClient::inspect_container(const std::string& id) {
  return call_json("GET", "/containers/" + id + "/json");
}

Result<void> DockerClient::kill_container(const std::string& id, std::string_view signal) {
  auto r = call_json("POST", fmt::format("/containers/{}/kill?signal={}", id, signal));
  if (!r) return std::move(r).error();
  return ok();
}

Result<void> DockerClient::remove_container(const std::string& id, bool force) {
  auto r = call_json("DELETE",
                     fmt::format("/containers/{}?force={}&v=true", id, force ? "true" : "false"));
  if (!r) return std::move(r).error();
  return ok();
}

Result<std::string> DockerClient::get_archive(const std::string& id, const std::string& p) {
  auto r = call("GET", fmt::format("/containers/{}/archive?path={}", id, url_encode(p)));
  if (!r) return std::move(r).error();
  if (r->status >= 400) return make_error(fmt::format("Docker: {}", daemon_message(*r)));
  return std::move(r->body);
}

Result<void> DockerClient::put_archive(const std::string& id, const std::string& p,
                                       const std::string& tar) {
  auto target = path(fmt::format("/containers/{}/archive?path={}", id, url_encode(p)));
  if (!target) return std::move(target).error();
  auto r = transport_.request("PUT", *target, tar, "application/x-tar");
  if (!r) return std::move(r).error();
  if (r->status >= 400) return make_error(fmt::format("Docker: {}", daemon_message(*r)));
  return ok();
}

Result<std::string> DockerClient::export_container(const std::string& id) {
  auto r = call("GET", fmt::format("/containers/{}/export", id));
  if (!r) return std::move(r).error();
  if (r->status >= 400) return make_error(fmt::format("Docker: {}", daemon_message(*r)));
  return std::move(r->body);
}

Result<std::string> DockerClient::create_exec(const std::string& container_id, const json& config) {
  auto r = call_json("POST", "/containers/" + container_id + "/exec", config.dump());
  if (!r) return std::move(r).error();
  if (!r->contains("Id")) return make_error("Docker exec create returned no Id");
  return (*r)["Id"].get<std::string>();
}

Result<HijackedStream> DockerClient::start_exec_attached(const std::string& exec_id) {
  auto target = path("/exec/" + exec_id + "/start");
  if (!target) return std::move(target).error();
  auto stream = transport_.hijack("POST", *target, json{{"Detach", false}, {"Tty", false}}.dump());
  if (!stream) return std::move(stream).error().context("Docker exec start");
  return stream;
}

Result<void> DockerClient::start_exec_detached(const std::string& exec_id) {
  auto r = call_json("POST", "/exec/" + exec_id + "/start",
                     json{{"Detach", true}, {"Tty", false}}.dump());
  if (!r) return std::move(r).error();
  return ok();
}

Result<ExecResult> DockerClient::inspect_exec(const std::string& exec_id) {
  auto r = call_json("GET", "/exec/" + exec_id + "/json");
  if (!r) return std::move(r).error();
  ExecResult out;
  out.running = r->value("Running", false);
  const auto& code = (*r)["ExitCode"];
  out.exit_code = code.is_number_integer() ? code.get<int>() : 1;
  return out;
}

}  // namespace isol8::docker
