#include "rootfs/registry.h"

#include <cstdlib>
#include <vector>

#include <fmt/format.h>

namespace isol8::rootfs {
namespace {

constexpr const char* kMirrorVariables[] = {
    "PIP_INDEX_URL",       "PIP_EXTRA_INDEX_URL", "PIP_TRUSTED_HOST",
    "npm_config_registry", "NPM_CONFIG_REGISTRY",
};

// What pip (urllib3), npm/bun/deno (Node's and Rust's network errors) and apt print when a
// connection could not be made. pip only names the connection error when it retries (the
// install runs it with --retries 1); with none it says "from versions: none" alone.
constexpr std::string_view kConnectionFailures[] = {
    // pip
    "NewConnectionError",
    "ConnectTimeoutError",
    "ProxyError",
    "Failed to establish a new connection",
    // npm
    "ENOTFOUND",
    "ECONNREFUSED",
    "ETIMEDOUT",
    "EAI_AGAIN",
    "ENETUNREACH",
    "EHOSTUNREACH",
    // bun
    "ConnectionRefused",
    "ConnectionClosed",
    // deno
    "error sending request for url",
    "client error (Connect)",
    // apt
    "Temporary failure resolving",
    "Could not resolve",
    "Unable to connect to",
    "Network is unreachable",
};

std::string env_or(const char* name, const std::string& fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? v : fallback;
}

std::string_view line_at(std::string_view text, size_t pos) {
  const size_t begin = text.rfind('\n', pos);
  const size_t start = begin == std::string_view::npos ? 0 : begin + 1;
  const size_t end = text.find('\n', pos);
  std::string_view line =
      text.substr(start, end == std::string_view::npos ? text.npos : end - start);
  while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.remove_suffix(1);
  return line;
}

}  // namespace

std::string registry_env_prelude() {
  std::string s = "_isol8_registry_env=()\nfor _isol8_var in";
  for (const char* v : kMirrorVariables) s += std::string(" ") + v;
  s += "; do\n"
       "  if [ -n \"${!_isol8_var:-}\" ]; then\n"
       "    _isol8_registry_env+=(\"$_isol8_var=${!_isol8_var}\")\n"
       "  fi\n"
       "done\n";
  return s;
}

std::string registry_url(std::string_view runtime) {
  if (runtime == "python") return env_or("PIP_INDEX_URL", "https://pypi.org/simple");
  if (runtime == "bash") return env_or("ISOL8_DEBIAN_MIRROR", "the host's Debian mirror");
  return env_or("npm_config_registry",
                env_or("NPM_CONFIG_REGISTRY", "https://registry.npmjs.org/"));
}

std::optional<std::string> unreachable_registry_message(std::string_view runtime,
                                                        std::string_view output) {
  // The last connection failure printed is the one that ended the install.
  size_t found = std::string_view::npos;
  for (auto marker : kConnectionFailures) {
    const size_t at = output.rfind(marker);
    if (at != std::string_view::npos && (found == std::string_view::npos || at > found)) found = at;
  }
  if (found == std::string_view::npos) return std::nullopt;
  std::string line(line_at(output, found));
  if (line.size() > 300) line = line.substr(0, 297) + "...";
  std::string how;
  if (runtime == "python") {
    how = "PIP_INDEX_URL=<url> (a PyPI \"simple\" index; PIP_TRUSTED_HOST=<host> for plain http)";
  } else if (runtime == "bash") {
    how = "ISOL8_DEBIAN_MIRROR=<url> (a Debian mirror; it applies when the base is built)";
  } else {
    how = "npm_config_registry=<url> (an npm registry; npm, bun and deno read it)";
  }
  return fmt::format(
      "the package registry {} could not be reached ({}). Point the build at a reachable mirror "
      "by setting {} in the environment of isol8 setup / isol8 build",
      registry_url(runtime), line, how);
}

}  // namespace isol8::rootfs
