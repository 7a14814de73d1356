#pragma once
// The execution envelope of /execute, /execute/stream and the WebSocket's execute message:
// {request, options?, sessionId?}, checked field by field (400 naming the field).

#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "isol8/result.h"
#include "isol8/types.h"

namespace isol8::server {

struct Envelope {
  ExecutionRequest request;
  nlohmann::json options;  // null when absent; the policy reads it
  std::optional<std::string> session_id;
};

// A request body as JSON: 400 "Invalid JSON body: <parser's reason>" when it is not.
Result<nlohmann::json> parse_json_body(std::string_view body);

Result<Envelope> parse_envelope(const nlohmann::json& body);

}  // namespace isol8::server
