#pragma once
// The HTTP message types of the server (Boost.Beast) and the replies every handler builds.

#include <string>

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <nlohmann/json.hpp>

#include "isol8/result.h"

namespace isol8::server {

using Request = boost::beast::http::request<boost::beast::http::string_body>;
using Response = boost::beast::http::response<boost::beast::http::string_body>;

// `Content-Type: application/json`, the compact JSON text (upstream: JSON.stringify).
Response json_response(int status, const nlohmann::json& body);
// {"error": message} with the error's status (500 for an error from below the server).
Response error_response(const Error& error);
Response error_response(int status, const std::string& message);
// {"ok": true}
Response ok_response();
// The StreamEvent-shaped {"type", "data"} (key order as upstream's JSON.stringify).
std::string event_text(std::string_view type, std::string_view data);

// Coroutines build JSON only through these plain functions: GCC 12 miscompiles braced
// initializer lists (nlohmann's {{"k", v}}) inside coroutine bodies (a double free).
// Hono's text replies: "404 Not Found", "Internal Server Error" (text/plain; charset=UTF-8).
Response text_response(int status, std::string body);

// The request's target without the query, and one query parameter (percent-decoded).
std::string request_path(const Request& request);
std::optional<std::string> query_parameter(const Request& request, std::string_view name);
std::string percent_decode(std::string_view text);

}  // namespace isol8::server
