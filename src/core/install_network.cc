#include "core/install_network.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>

#include "core/package_install.h"

namespace isol8 {
namespace {

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v != nullptr ? std::string(v) : std::string();
}

std::string trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return std::string(s);
}

// The hosts of the mirrors the variables name, as patterns; empty when none is set.
std::vector<std::string> mirror_hosts(std::initializer_list<const char*> variables) {
  std::vector<std::string> out;
  for (const char* name : variables) {
    // PIP_EXTRA_INDEX_URL may hold several URLs separated by spaces.
    const std::string value = env(name);
    size_t i = 0;
    while (i < value.size()) {
      size_t j = value.find(' ', i);
      if (j == std::string::npos) j = value.size();
      const std::string host = url_host(std::string_view(value).substr(i, j - i));
      if (!host.empty()) {
        const std::string pattern = exact_host_pattern(host);
        if (std::find(out.begin(), out.end(), pattern) == out.end()) out.push_back(pattern);
      }
      i = j + 1;
    }
  }
  return out;
}

std::vector<std::string> npm_registry() {
  auto mirrors = mirror_hosts({"npm_config_registry", "NPM_CONFIG_REGISTRY"});
  if (!mirrors.empty()) return mirrors;
  return {"^registry\\.npmjs\\.org$"};
}

// bash: the hosts of ISOL8_APT_SOURCES's URLs, else of ISOL8_DEBIAN_MIRROR (the mirror the
// roots were built from, whose sources.list names it), else Debian's archive.
std::vector<std::string> debian_archive_hosts() {
  std::vector<std::string> out;
  const std::string sources = configured_apt_sources();
  size_t i = 0;
  while ((i = sources.find("://", i)) != std::string::npos) {
    const size_t start = sources.find_last_of(" \t\n]", i);
    const size_t begin = start == std::string::npos ? 0 : start + 1;
    const std::string host = url_host(std::string_view(sources).substr(begin));
    if (!host.empty()) {
      const std::string pattern = exact_host_pattern(host);
      if (std::find(out.begin(), out.end(), pattern) == out.end()) out.push_back(pattern);
    }
    i += 3;
  }
  if (!out.empty()) return out;
  auto mirror = mirror_hosts({"ISOL8_DEBIAN_MIRROR"});
  if (!mirror.empty()) return mirror;
  return {"^deb\\.debian\\.org$"};
}

}  // namespace

std::string url_host(std::string_view url) {
  const size_t scheme = url.find("://");
  if (scheme == std::string_view::npos) return "";
  std::string_view rest = url.substr(scheme + 3);
  rest = rest.substr(0, rest.find_first_of("/?#"));
  if (const size_t at = rest.rfind('@'); at != std::string_view::npos) rest.remove_prefix(at + 1);
  if (rest.starts_with('[')) return "";  // IPv6 literals: not a host name a pattern can name
  rest = rest.substr(0, rest.find(':'));
  std::string host(rest);
  for (char& c : host) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return host;
}

std::string exact_host_pattern(std::string_view host) {
  std::string p = "^";
  for (char c : host) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-') p += '\\';
    p += c;
  }
  return p + "$";
}

std::vector<std::string> registry_host_patterns(std::string_view runtime) {
  if (runtime != "python" && runtime != "node" && runtime != "bun" && runtime != "deno" &&
      runtime != "bash") {
    return {};
  }
  if (const std::string configured = env("ISOL8_INSTALL_HOSTS"); !trim(configured).empty()) {
    std::vector<std::string> out;
    size_t i = 0;
    while (i <= configured.size()) {
      size_t j = configured.find(',', i);
      if (j == std::string::npos) j = configured.size();
      std::string pattern = trim(std::string_view(configured).substr(i, j - i));
      if (!pattern.empty()) out.push_back(std::move(pattern));
      i = j + 1;
    }
    return out;
  }
  if (runtime == "python") {
    auto mirrors = mirror_hosts({"PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL"});
    if (!mirrors.empty()) return mirrors;
    return {"^pypi\\.org$", "^files\\.pythonhosted\\.org$"};
  }
  if (runtime == "node" || runtime == "bun") return npm_registry();
  if (runtime == "deno") {
    auto out = npm_registry();
    out.insert(out.end(), {"^jsr\\.io$", "^npm\\.jsr\\.io$"});
    return out;
  }
  return debian_archive_hosts();
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
  auto allow = [&whitelist](std::string pattern) {
    if (std::find(whitelist.begin(), whitelist.end(), pattern) == whitelist.end()) {
      whitelist.push_back(std::move(pattern));
    }
  };
  for (auto& pattern : registry_host_patterns(runtime)) allow(std::move(pattern));
  if (runtime == "deno") {
    for (const auto& spec : request.install_packages) {
      if (spec.starts_with("https://")) {
        if (const auto host = url_host(spec); !host.empty()) allow(exact_host_pattern(host));
      }
    }
  }
}

}  // namespace isol8
