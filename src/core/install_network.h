#pragma once
// Upstream's `--install` network: the package registries a run's installs need.

#include <string>
#include <string_view>
#include <vector>

#include "isol8/types.h"

namespace isol8 {

// The package registries a runtime's installs need, as host patterns (upstream's `--install`
// list): python ^pypi\.org$ and ^files\.pythonhosted\.org$, node and bun
// ^registry\.npmjs\.org$, deno the npm registry, ^jsr\.io$ and ^npm\.jsr\.io$ (upstream: none),
// bash Debian's archive. Configurable, so that a company mirror works:
//   - a mirror named in isol8's environment replaces the runtime's registry by its host:
//     PIP_INDEX_URL and PIP_EXTRA_INDEX_URL (python), npm_config_registry or NPM_CONFIG_REGISTRY
//     (node, bun, deno's npm: packages);
//   - ISOL8_INSTALL_HOSTS, a comma-separated list of host patterns, replaces the whole list.
// Unknown runtimes: none.
std::vector<std::string> registry_host_patterns(std::string_view runtime);

// The host of an http(s) URL ("" when there is none), lower-cased.
std::string url_host(std::string_view url);

// `^<host>$` with the host's dots escaped.
std::string exact_host_pattern(std::string_view host);

// Upstream's `--install` without `--net`: the run goes "filtered" with the runtime's registries
// (and, for deno, the hosts of https:// specifiers) added to the whitelist. A request without
// packages, or a network chosen explicitly (the CLI's --net, also spelled --net=<mode>), changes
// nothing.
void apply_install_network(Options& options, const ExecutionRequest& request,
                           bool network_explicit);

}  // namespace isol8
