// /auth/keys (POST, GET, DELETE /auth/keys/:id) and /auth/login: master key only, then "DB-backed
// auth is not enabled" without a key store, as upstream (in that order).

// Boost 1.74's asio/awaitable.hpp uses std::exchange without including <utility>.
#include <utility>

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <boost/beast/http/verb.hpp>

#include "common/iso_time.h"
#include "server/envelope.h"
#include "server/handlers.h"
#include "server/http_error.h"

namespace isol8::server {
namespace {

namespace http = boost::beast::http;
using nlohmann::json;

json record_json(const ApiKeyRecord& r) {
  return {{"id", r.id},
          {"name", r.name},
          {"keyPrefix", r.key_prefix},
          {"tenantId", r.tenant_id},
          {"createdAt", r.created_at},
          {"expiresAt", r.expires_at},
          {"lastUsedAt", r.last_used_at ? json(*r.last_used_at) : json(nullptr)},
          {"revoked", r.revoked}};
}

Response store_failure(const Error& e) {
  spdlog::error("{}", e.message);
  return json_response(500, {{"error", "Internal Server Error"}});
}

// name, tenantId and ttlMs of a key request; `name_default` empty = name required.
struct KeyParams {
  std::string name;
  std::string tenant_id = "default";
  int64_t ttl_ms = 0;
};

Result<KeyParams> key_params(const json& body, const std::string& name_default, int64_t ttl) {
  KeyParams p;
  p.ttl_ms = ttl;
  p.name = name_default;
  if (!body.is_object()) {
    if (name_default.empty()) return http_error(400, "name is required");
    return p;
  }
  if (const auto n = body.find("name"); n != body.end() && !n->is_null()) {
    if (!n->is_string()) return http_error(400, "name must be a string");
    if (!n->get<std::string>().empty()) p.name = n->get<std::string>();
  }
  if (p.name.empty()) return http_error(400, "name is required");
  if (const auto t = body.find("tenantId"); t != body.end() && !t->is_null()) {
    if (!t->is_string()) return http_error(400, "tenantId must be a string");
    if (!t->get<std::string>().empty()) p.tenant_id = t->get<std::string>();
  }
  if (const auto t = body.find("ttlMs"); t != body.end() && !t->is_null()) {
    if (!t->is_number() || t->get<double>() <= 0 || t->get<double>() > 1e13) {
      return http_error(400, "ttlMs must be a positive number of milliseconds");
    }
    p.ttl_ms = static_cast<int64_t>(t->get<double>());
  }
  return p;
}

}  // namespace

Response handle_auth(ServerState& state, const Request& request, const Principal& who) {
  if (!who.master) return json_response(403, {{"error", "Master key required for this operation"}});
  KeyStore* store = state.auth.store();
  if (store == nullptr) return json_response(400, {{"error", "DB-backed auth is not enabled"}});
  const std::string path = request_path(request);
  const http::verb method = request.method();
  const int64_t ttl = state.settings.default_key_ttl_ms;

  if (path == "/auth/keys" && method == http::verb::post) {
    auto body = parse_json_body(request.body());
    if (!body) return error_response(body.error());
    auto params = key_params(*body, "", ttl);
    if (!params) return error_response(params.error());
    auto made = store->create(params->name, params->tenant_id, params->ttl_ms);
    if (!made) return store_failure(made.error());
    const ApiKeyRecord& r = made->record;
    return json_response(201, {{"id", r.id},
                               {"key", made->key},
                               {"name", r.name},
                               {"keyPrefix", r.key_prefix},
                               {"tenantId", r.tenant_id},
                               {"expiresAt", r.expires_at}});
  }
  if (path == "/auth/keys" && method == http::verb::get) {
    auto keys = store->list(query_parameter(request, "tenantId"));
    if (!keys) return store_failure(keys.error());
    json list = json::array();
    for (const auto& r : *keys) list.push_back(record_json(r));
    return json_response(200, {{"keys", std::move(list)}});
  }
  if (path.rfind("/auth/keys/", 0) == 0 && method == http::verb::delete_) {
    const std::string id = path.substr(std::string_view("/auth/keys/").size());
    auto revoked = store->revoke(id);
    if (!revoked) return store_failure(revoked.error());
    if (!*revoked) return json_response(404, {{"error", "Key not found"}});
    return json_response(200, {{"ok", true}, {"id", id}});
  }
  if (path == "/auth/login" && method == http::verb::post) {
    // The body is optional here (upstream tolerates a bad or empty one).
    json body = json::parse(request.body(), nullptr, false);
    if (body.is_discarded()) body = json::object();
    auto params = key_params(body, "login-" + iso_timestamp_now(), ttl);
    if (!params) return error_response(params.error());
    auto made = store->create(params->name, params->tenant_id, params->ttl_ms);
    if (!made) return store_failure(made.error());
    return json_response(
        200,
        {{"token", made->key}, {"expiresAt", made->record.expires_at}, {"keyId", made->record.id}});
  }
  return text_response(404, "404 Not Found");
}

}  // namespace isol8::server
