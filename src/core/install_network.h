#pragma once
// Upstream's `--install` network: the package registries a run's installs need.

#include <string>
#include <string_view>
#include <vector>

#include "isol8/types.h"

namespace isol8 {

// The package registries a runtime's installs need, as host patterns (upstream's `--install`
// list): python ^pypi\.org$ and ^files\.pythonhosted\.org$, node and bun
// ^registry\.npmjs\.org$, bash Debian's archive (upstream's Alpine CDN is of no use to Debian
// roots), deno none (it fetches from wherever the import names). Unknown runtimes: none.
std::vector<std::string> registry_host_patterns(std::string_view runtime);

// Upstream's `--install` without `--net`: the run goes "filtered" with the runtime's registries
// added to the whitelist. A request without packages, or a network chosen explicitly (the CLI's
// --net), changes nothing.
void apply_install_network(Options& options, const ExecutionRequest& request,
                           bool network_explicit);

}  // namespace isol8
