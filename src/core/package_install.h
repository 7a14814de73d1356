#pragma once
// Run-time package installs (upstream installPackages / --install): which package names each
// runtime accepts, and the argv (never a shell command line) that installs them inside the
// sandbox, as the sandbox user, before the setup script.
//
//   python  pip install --user into /sandbox/.local (PYTHONUSERBASE)
//   node    npm install --prefix /sandbox          -> /sandbox/node_modules
//   bun     bun install -g into BUN_INSTALL_GLOBAL_DIR=/sandbox/.bun-global (its node_modules on
//           the bun runtime's NODE_PATH)
//   deno    deno cache <specifier>, one command per specifier, into DENO_DIR=/sandbox/.deno
//   bash    apt-get without root (state and cache under /sandbox/.apt) downloads the packages
//           and the dependencies the root lacks; each is unpacked with dpkg-deb into
//           /sandbox/.deb, whose bin and lib directories are on the bash runtime's PATH and
//           LD_LIBRARY_PATH. No maintainer scripts run.

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

// The npm registry for Deno, which reads only NPM_CONFIG_REGISTRY (npm and bun read either
// spelling): {"NPM_CONFIG_REGISTRY=<url>"} from isol8's NPM_CONFIG_REGISTRY or else
// npm_config_registry, {} when neither is set. Deno keeps its npm cache per registry, so the
// code of a deno run needs it as much as `deno cache` does (it would otherwise look for the
// packages under registry.npmjs.org and fetch them again).
std::vector<std::string> deno_registry_environment();

// The commands that install `packages` for `runtime` (validated already), each with the time
// limit `timeout`. `tool` is the absolute path of the runtime's tool inside the root (pip's
// python3, npm, bun, deno, apt-get; see install_tool()).
std::vector<SetupCommand> install_commands(std::string_view runtime, const std::string& tool,
                                           const std::vector<std::string>& packages,
                                           std::chrono::milliseconds timeout);

// The executable an install for `runtime` runs, looked up like interpreters (kInterpreterDirs):
// python3 (for `-m pip`), npm, bun, deno, apt-get.
std::string_view install_tool(std::string_view runtime);

// The APT sources a bash install uses instead of the root's own (/etc/apt/sources.list and
// sources.list.d): ISOL8_APT_SOURCES from isol8's environment, one-line-style entries separated
// by newlines or ';' (e.g. `deb http://mirror.example/debian bookworm main`), as the content of
// a sources.list; "" when unset (the root's sources are used).
std::string configured_apt_sources();

// Where a bash install's sources.list goes inside the sandbox (written before the setup phase).
inline constexpr const char* kAptSourcesPath = "/sandbox/.apt/sources.list";

// Puts the directories of packages a bash install unpacks (/sandbox/.deb) in front of `env`'s
// PATH and LD_LIBRARY_PATH (added when missing); idempotent. Only runs that installed Debian
// packages, or follow such a run in a session, get them: every dynamic executable would otherwise
// probe these directories' glibc-hwcaps subdirectories at start.
void add_debian_package_environment(std::vector<std::string>& env);

// The label of install failures: `Package install failed (exit code N): <stderr>`.
inline constexpr const char* kPackageInstallLabel = "Package install";

}  // namespace isol8
