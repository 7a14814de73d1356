#pragma once
// The package registries that package installs (config dependencies, `isol8 build --install`)
// reach, and how a build is pointed at a mirror: the variables below, taken from isol8's own
// environment into the root's install commands (which otherwise run with a clean environment).
//   PIP_INDEX_URL, PIP_EXTRA_INDEX_URL, PIP_TRUSTED_HOST     pip (python)
//   npm_config_registry / NPM_CONFIG_REGISTRY                npm (node), bun, deno (npm: packages)
//   ISOL8_DEBIAN_MIRROR                                      apt (bash; the Debian base)
// A failed install whose output shows that the registry could not be reached gets a message
// that says so, names the registry and the variable, instead of the tool's "not found".

#include <optional>
#include <string>
#include <string_view>

namespace isol8::rootfs {

// Shell lines (for a recipe body, after lib.sh) that fill the bash array `_isol8_registry_env`
// with NAME=VALUE for each mirror variable set in the environment; install commands run
// `in_root env "${_isol8_registry_env[@]}" <tool> ...`.
std::string registry_env_prelude();

// The registry `runtime`'s installs use, as the environment names it or the tool's default.
std::string registry_url(std::string_view runtime);

// When `output` (what the failed install printed) shows a connection failure: "the package
// registry <url> could not be reached (<the tool's line>). Point the build at a reachable
// mirror with <VARIABLE>=<url> ..." Else nothing.
std::optional<std::string> unreachable_registry_message(std::string_view runtime,
                                                        std::string_view output);

}  // namespace isol8::rootfs
