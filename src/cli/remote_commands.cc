// `isol8 login`, `isol8 logout`, `isol8 session list|stop`, and the key resolution that remote
// runs share, with upstream's messages.

#include <cstdlib>
#include <ctime>
#include <iostream>

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "client/credentials.h"
#include "client/remote_engine.h"
#include "common/iso_time.h"
#include "common/server_url.h"
#include "isol8/options.h"

namespace isol8::cli {
namespace {

using nlohmann::json;

std::string credentials_display() { return "~/.isol8/credentials.json"; }

Result<client::RemoteEngine*> connect(const RemoteArgs& args,
                                      std::unique_ptr<client::RemoteEngine>& holder,
                                      std::optional<std::string> key = std::nullopt) {
  auto url = parse_server_url(args.host);
  if (!url) return std::move(url).error();
  if (!key) {
    auto resolved = resolve_api_key(args.key, url->canonical());
    if (!resolved) return std::move(resolved).error();
    key = *resolved;
  }
  auto remote = client::RemoteEngine::connect({*url, *key, std::nullopt, false}, Options{});
  if (!remote) return std::move(remote).error();
  holder = std::move(remote).value();
  return holder.get();
}

int login(const RemoteArgs& args) {
  if (!args.key) return report_error("--key is required (the server's master key)");
  auto url = parse_server_url(args.host);
  if (!url) return report_error(url.error().message);
  json body = {{"name", args.name ? *args.name : "cli-login-" + iso_timestamp_now()}};
  if (args.ttl_ms) {
    auto ttl = parse_timeout_ms(*args.ttl_ms, "--ttl");
    if (!ttl) return report_error(ttl.error().message);
    body["ttlMs"] = *ttl;
  }
  client::ServerConnection connection(*url, *args.key);
  client::CallLimits limits;
  limits.idle = std::chrono::milliseconds(30'000);
  limits.max_body = 1 << 20;
  auto reply = connection.request("POST", "/auth/login", body.dump(), limits);
  if (!reply) {
    return report_error(fmt::format("Authentication failed: cannot reach {}: {}", url->canonical(),
                                    reply.error().message));
  }
  if (reply->status < 200 || reply->status > 299) {
    if (reply->status == 400) {
      spdlog::warn("The server may not have DB-backed auth enabled (isol8 serve --auth-db)");
    }
    return report_error("Authentication failed: " + client::server_error(*reply));
  }
  const json j = json::parse(reply->body, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object() || !j.contains("token") || !j["token"].is_string()) {
    return report_error("Authentication failed: the server's reply has no token");
  }
  client::Credentials c{url->canonical(), j["token"].get<std::string>(), j.value("expiresAt", ""),
                        j.value("keyId", "")};
  auto path = client::credentials_path();
  if (!path) return report_error("HOME is not set: nowhere to store the credentials");
  if (auto saved = client::save_credentials(*path, c); !saved) {
    return report_error(saved.error().message);
  }
  std::cout << "[OK] Logged in to " << c.host << "\n"
            << "     Host: " << c.host << "\n"
            << "     Expires: " << (c.expires_at.empty() ? "never" : c.expires_at) << "\n"
            << "     Stored: " << credentials_display() << std::endl;
  return 0;
}

int logout() {
  auto path = client::credentials_path();
  std::error_code ec;
  if (!path || !std::filesystem::exists(*path, ec)) {
    std::cout << "[INFO] No stored credentials found." << std::endl;
    return 0;
  }
  if (!std::filesystem::remove(*path, ec) || ec) {
    return report_error(fmt::format("Cannot remove {}: {}", path->string(), ec.message()));
  }
  std::cout << "[OK] Credentials removed from " << credentials_display() << std::endl;
  return 0;
}

// "2026-12-04T10:00:00.000Z" in local time, as upstream prints it; the text itself when it
// cannot be read.
std::string local_time(const std::string& iso) {
  std::tm tm{};
  if (::strptime(iso.c_str(), "%Y-%m-%dT%H:%M:%S", &tm) == nullptr) return iso;
  const std::time_t t = ::timegm(&tm);
  std::tm local{};
  ::localtime_r(&t, &local);
  char text[64];
  std::strftime(text, sizeof text, "%Y-%m-%d %H:%M:%S", &local);
  return text;
}

int session_list(const RemoteArgs& args) {
  std::unique_ptr<client::RemoteEngine> holder;
  auto remote = connect(args, holder);
  if (!remote) return report_error(remote.error().message);
  auto sessions = (*remote)->list_sessions();
  if (!sessions) return report_error(sessions.error().message);
  if (args.json) {
    json list = json::array();
    for (const auto& s : *sessions) {
      list.push_back(
          {{"id", s.id}, {"isActive", s.active}, {"lastAccessedAt", s.last_accessed_at}});
    }
    std::cout << list.dump(2) << std::endl;
    return 0;
  }
  if (sessions->empty()) {
    std::cout << "[INFO] No active sessions." << std::endl;
    return 0;
  }
  for (const auto& s : *sessions) {
    std::cout << "  " << s.id << "  [" << (s.active ? "running" : "idle")
              << "]  last accessed: " << local_time(s.last_accessed_at) << "\n";
  }
  std::cout << std::flush;
  return 0;
}

int session_stop(const RemoteArgs& args) {
  std::unique_ptr<client::RemoteEngine> holder;
  auto remote = connect(args, holder);
  if (!remote) return report_error(remote.error().message);
  if (auto deleted = (*remote)->delete_session(args.session_id); !deleted) {
    return report_error(deleted.error().message);
  }
  std::cout << "[OK] Session \"" << args.session_id << "\" destroyed." << std::endl;
  return 0;
}

}  // namespace

Result<std::string> resolve_api_key(const std::optional<std::string>& flag,
                                    const std::string& canonical_host) {
  if (flag && !flag->empty()) return *flag;
  if (const char* env = std::getenv("ISOL8_API_KEY"); env != nullptr && *env != '\0')
    return std::string(env);
  if (auto path = client::credentials_path()) {
    auto stored = client::load_credentials(*path);
    if (!stored) return std::move(stored).error();
    if (*stored && (*stored)->host == canonical_host) {
      if (!client::expired((*stored)->expires_at)) return (*stored)->token;
      spdlog::warn("Stored credentials have expired. Run `isol8 login` again.");
    }
  }
  return make_error(
      "API key required. Use --key, set ISOL8_API_KEY, or run `isol8 login --host <url> --key "
      "<master key>`.");
}

void add_remote_commands(CLI::App& app, RemoteArgs& a) {
  a.login = app.add_subcommand("login", "Get a token from an isol8 server and store it");
  a.login->add_option("--host", a.host, "The server, e.g. http://localhost:3000")->required();
  a.login->add_option("--key", a.key, "The server's master key")->required();
  a.login->add_option("--name", a.name, "A name for the token");
  a.login->add_option("--ttl", a.ttl_ms, "How long the token lives, in ms");
  a.logout = app.add_subcommand("logout", "Remove the stored credentials");
  CLI::App* session = app.add_subcommand("session", "Manage sessions on an isol8 server");
  session->require_subcommand(1);
  a.session_list = session->add_subcommand("list", "List the server's sessions");
  a.session_list->add_option("--host", a.host, "The server")->required();
  a.session_list->add_option("--key", a.key, "The server's API key");
  a.session_list->add_flag("--json", a.json, "Print the list as JSON");
  a.session_stop = session->add_subcommand("stop", "Stop a session on the server");
  a.session_stop->add_option("id", a.session_id, "The session's id")->required();
  a.session_stop->add_option("--host", a.host, "The server")->required();
  a.session_stop->add_option("--key", a.key, "The server's API key");
}

bool remote_command_parsed(const RemoteArgs& a) {
  return a.login->parsed() || a.logout->parsed() || a.session_list->parsed() ||
         a.session_stop->parsed();
}

int remote_command(const RemoteArgs& a) {
  if (a.login->parsed()) return login(a);
  if (a.logout->parsed()) return logout();
  if (a.session_list->parsed()) return session_list(a);
  return session_stop(a);
}

}  // namespace isol8::cli
