#include "server/http_types.h"

#include "server/http_error.h"

namespace isol8::server {

namespace http = boost::beast::http;

Response json_response(int status, const nlohmann::json& body) {
  Response r{static_cast<http::status>(status), 11};
  r.set(http::field::content_type, "application/json");
  // Client text (an error quoting a runtime name) may hold invalid UTF-8: replaced, never thrown.
  r.body() = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return r;
}

Response error_response(const Error& error) {
  return json_response(status_of(error), {{"error", error.message}});
}

Response error_response(int status, const std::string& message) {
  return json_response(status, {{"error", message}});
}

Response ok_response() { return json_response(200, {{"ok", true}}); }

std::string event_text(std::string_view type, std::string_view data) {
  nlohmann::ordered_json j;
  j["type"] = type;
  j["data"] = data;
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

Response text_response(int status, std::string body) {
  Response r{static_cast<http::status>(status), 11};
  r.set(http::field::content_type, "text/plain; charset=UTF-8");
  r.body() = std::move(body);
  return r;
}

std::string request_path(const Request& request) {
  const std::string_view target = request.target();
  return std::string(target.substr(0, target.find('?')));
}

std::string percent_decode(std::string_view text) {
  auto digit = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '+') {
      out.push_back(' ');  // URLSearchParams encodes a space as +
    } else if (text[i] == '%' && i + 2 < text.size() && digit(text[i + 1]) >= 0 &&
               digit(text[i + 2]) >= 0) {
      out.push_back(static_cast<char>(digit(text[i + 1]) * 16 + digit(text[i + 2])));
      i += 2;
    } else {
      out.push_back(text[i]);
    }
  }
  return out;
}

std::optional<std::string> query_parameter(const Request& request, std::string_view name) {
  const std::string_view target = request.target();
  const size_t q = target.find('?');
  if (q == std::string_view::npos) return std::nullopt;
  std::string_view query = target.substr(q + 1);
  while (!query.empty()) {
    const size_t amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    const size_t eq = pair.find('=');
    if (percent_decode(pair.substr(0, eq)) == name) {
      return eq == std::string_view::npos ? std::string() : percent_decode(pair.substr(eq + 1));
    }
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return std::nullopt;
}

}  // namespace isol8::server
