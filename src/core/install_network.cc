#include "core/install_network.h"

#include <algorithm>
#include <cctype>

namespace isol8 {

std::vector<std::string> registry_host_patterns(std::string_view runtime) {
  if (runtime == "python") return {"^pypi\\.org$", "^files\\.pythonhosted\\.org$"};
  if (runtime == "node" || runtime == "bun") return {"^registry\\.npmjs\\.org$"};
  if (runtime == "bash") return {"^deb\\.debian\\.org$"};
  return {};
}

void apply_install_network(Options& options, const ExecutionRequest& request,
                           bool network_explicit) {
  if (request.install_packages.empty() || network_explicit) return;
  options.network = NetworkMode::kFiltered;
  const bool has_cmd = request.cmd && !std::all_of(request.cmd->begin(), request.cmd->end(),
                                                   [](unsigned char c) { return std::isspace(c); });
  const std::string runtime =
      !request.runtime.empty() ? request.runtime : (has_cmd ? "bash" : "python");
  auto& whitelist = options.network_filter.whitelist;
  for (auto& pattern : registry_host_patterns(runtime)) {
    if (std::find(whitelist.begin(), whitelist.end(), pattern) == whitelist.end()) {
      whitelist.push_back(std::move(pattern));
    }
  }
}

}  // namespace isol8
