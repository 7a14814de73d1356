// libFuzzer target: request body bytes -> JSON -> execution envelope -> server policy (the path
// every /execute, /execute/stream and WebSocket execute message takes before a sandbox exists).
// Any input must end in a value or an error, never a crash, a hang or a leak.

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "isol8/types.h"
#include "server/envelope.h"
#include "server/policy.h"
#include "server/server_settings.h"

namespace {

const isol8::server::ServerSettings& settings() {
  static const isol8::server::ServerSettings s = [] {
    auto made = isol8::server::settings_from_config(nlohmann::json::object(), isol8::Options{});
    return made ? std::move(made).value() : isol8::server::ServerSettings{};
  }();
  return s;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  auto json = isol8::server::parse_json_body(body);
  if (!json) return 0;
  auto envelope = isol8::server::parse_envelope(*json);
  if (!envelope) return 0;
  auto options = isol8::server::apply_client_options(envelope->options, settings());
  if (options) (void)isol8::server::check_request_limits(envelope->request, settings());
  return 0;
}
