#pragma once
// Run-time package installs (upstream installPackages / --install): which package names each
// runtime accepts, and the argv (never a shell command line) that installs them inside the
// sandbox, as the sandbox user, before the setup script.
//
//   python  pip install --user into /sandbox/.local (PYTHONUSERBASE)
//   node    npm install --prefix /sandbox          -> /sandbox/node_modules
//   bun     bun install -g --global-dir=/sandbox/.bun-global
//   deno    deno cache <specifier>, one command per specifier, into DENO_DIR=/sandbox/.deno
//   bash    not in the sandbox: the runner fetches .debs on the host (see deb_install.h)

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "backends/backend.h"
#include "isol8/result.h"

namespace isol8 {

// Each entry against the runtime's grammar; the first bad one is refused by name:
// `Invalid package name for <runtime>: "<entry>" (<what the runtime accepts>)`.
//   python  a PEP 508 requirement without URL or markers: name[extra,...]==1.0,<2 (no spaces)
//   node    an npm name, scoped or not, with an optional version, range or tag: @s/n@^1.2
//   bun     as node
//   deno    npm:<npm spec>, jsr:@scope/name[@version][/path], or an https:// URL
//   bash    a Debian package name with an optional =version: libfoo1=1.2-3
Result<void> validate_packages(std::string_view runtime, const std::vector<std::string>& packages);

// The mirror variables of isol8's own environment an install passes on (PIP_INDEX_URL,
// PIP_EXTRA_INDEX_URL, PIP_TRUSTED_HOST, npm_config_registry, NPM_CONFIG_REGISTRY), KEY=VALUE.
std::vector<std::string> mirror_environment();

// The commands that install `packages` for `runtime` (validated already), each with the time
// limit `timeout`. `tool` is the absolute path of the runtime's tool inside the root (pip's
// python3, npm, bun, deno; see install_tool()). Empty for bash (installed on the host side).
std::vector<SetupCommand> install_commands(std::string_view runtime, const std::string& tool,
                                           const std::vector<std::string>& packages,
                                           std::chrono::milliseconds timeout);

// The executable an install for `runtime` runs, looked up like interpreters (kInterpreterDirs):
// python3 (for `-m pip`), npm, bun, deno; "" for bash.
std::string_view install_tool(std::string_view runtime);

// The label of install failures: `Package install failed (exit code N): <stderr>`.
inline constexpr const char* kPackageInstallLabel = "Package install";

}  // namespace isol8
