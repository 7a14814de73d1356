#include "server/envelope.h"

#include <fmt/format.h>

#include "isol8/json.h"
#include "server/http_error.h"

namespace isol8::server {

Result<nlohmann::json> parse_json_body(std::string_view body) {
  try {
    return nlohmann::json::parse(body);
  } catch (const nlohmann::json::exception& e) {
    // Not only parse_error: a number too large for a double (1e600) is out_of_range.
    return http_error(400, fmt::format("Invalid JSON body: {}", e.what()));
  }
}

Result<Envelope> parse_envelope(const nlohmann::json& body) {
  if (!body.is_object()) return http_error(400, "The body must be a JSON object");
  Envelope e;
  const auto request = body.find("request");
  if (request == body.end() || request->is_null()) return http_error(400, "request is required");
  auto parsed = request_from_json(*request, "request");
  if (!parsed) return http_error(400, std::move(parsed).error().message);
  e.request = std::move(parsed).value();
  // request.codeUrl is fetched by the engine under the server's own remoteCode config (off by
  // default: "Remote code fetching is disabled. ..."); a client cannot loosen it (policy.cc).
  if (const auto o = body.find("options"); o != body.end()) e.options = *o;
  if (const auto s = body.find("sessionId"); s != body.end() && !s->is_null()) {
    if (!s->is_string()) return http_error(400, "sessionId must be a string");
    if (!s->get<std::string>().empty()) e.session_id = s->get<std::string>();
  }
  return e;
}

}  // namespace isol8::server
