#include "core/package_install.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <regex>

#include <fmt/format.h>

namespace isol8 {
namespace {

// PEP 508 without URLs, markers or spaces: a name, optional extras, optional comma-separated
// version clauses. Names start and end with a letter or digit, so nothing looks like an option.
const std::regex& pip_grammar() {
  static const std::regex re(
      R"(^[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?)"
      R"((\[[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?(,[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?)*\])?)"
      R"(((~=|===|==|!=|<=|>=|<|>)[A-Za-z0-9._*+!-]+(,(~=|===|==|!=|<=|>=|<|>)[A-Za-z0-9._*+!-]+)*)?$)");
  return re;
}

// An npm package name (scoped or not; npm's rules: URL-safe, no leading dot or underscore,
// at most 214 characters) with an optional version, range or dist-tag after '@'. A range has no
// spaces (">=1 <2" is refused; ">=1" and "^1.2" are fine).
const std::regex& npm_grammar() {
  static const std::regex re(
      R"(^(@[a-z0-9][a-z0-9._~-]*/)?[a-z0-9][a-z0-9._~-]*(@[A-Za-z0-9._~^<>=*|+-]+)?$)");
  return re;
}

// jsr:@scope/name[@version][/path]
const std::regex& jsr_grammar() {
  static const std::regex re(
      R"(^jsr:@[a-z0-9][a-z0-9_-]*/[a-z0-9][a-z0-9_-]*(@[A-Za-z0-9._~^<>=*|+-]+)?(/[A-Za-z0-9._~/-]*)?$)");
  return re;
}

// An https URL with a host and a plain path (no query, fragment, credentials or quotes).
const std::regex& https_grammar() {
  static const std::regex re(
      R"(^https://[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?(:[0-9]{1,5})?(/[A-Za-z0-9._~/%+@:=,-]*)?$)");
  return re;
}

// A Debian package name (Debian policy 5.6.1) with an optional =version (policy 5.6.12).
const std::regex& debian_grammar() {
  static const std::regex re(R"(^[a-z0-9][a-z0-9+.-]+(=[A-Za-z0-9][A-Za-z0-9.+~:-]*)?$)");
  return re;
}

bool npm_spec_ok(const std::string& spec) {
  if (spec.size() > 214 + 64) return false;
  return std::regex_match(spec, npm_grammar());
}

bool entry_ok(std::string_view runtime, const std::string& entry) {
  if (entry.empty() || entry.size() > 512) return false;
  if (runtime == "python") return std::regex_match(entry, pip_grammar());
  if (runtime == "node" || runtime == "bun") return npm_spec_ok(entry);
  if (runtime == "deno") {
    if (entry.starts_with("npm:")) return npm_spec_ok(entry.substr(4));
    return std::regex_match(entry, jsr_grammar()) || std::regex_match(entry, https_grammar());
  }
  if (runtime == "bash") return std::regex_match(entry, debian_grammar());
  return false;
}

std::string_view accepted(std::string_view runtime) {
  if (runtime == "python") return "a pip requirement such as name, name[extra]==1.0 or name>=1,<2";
  if (runtime == "node" || runtime == "bun") {
    return "an npm package such as name, name@1.2.3, name@^1 or @scope/name@latest";
  }
  if (runtime == "deno") return "npm:<package>, jsr:@scope/name[@version] or an https:// URL";
  if (runtime == "bash") return "a Debian package name such as jq or libfoo1=1.2-3";
  return "no packages";
}

// The printable form of an entry for an error message: control characters escaped.
std::string printable(const std::string& entry) {
  std::string out;
  for (unsigned char c : entry) {
    if (c < 0x20 || c == 0x7f) {
      out += fmt::format("\\x{:02x}", c);
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

constexpr const char* kMirrorVariables[] = {"PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL",
                                            "PIP_TRUSTED_HOST", "npm_config_registry",
                                            "NPM_CONFIG_REGISTRY"};

// A bash install's layout: apt's lists and downloads, and the tree the packages are unpacked to.
constexpr const char* kAptDir = "/sandbox/.apt";
constexpr const char* kDebRoot = "/sandbox/.deb";

#if defined(__x86_64__)
constexpr const char* kMultiarch = "x86_64-linux-gnu";
#elif defined(__aarch64__)
constexpr const char* kMultiarch = "aarch64-linux-gnu";
#else
#error "the Debian multiarch triplet of this architecture is not known"
#endif

// apt-get as the sandbox user: its state and cache in the sandbox, no lock (nothing else uses
// them; the root's /var/lib/dpkg is read-only and only read, to leave out what the root has),
// indexes kept compressed, no binary cache (both would only fill the tmpfs).
std::vector<std::string> apt_options(const std::string& apt) {
  std::vector<std::string> argv = {apt,  "-q",
                                   "-o", fmt::format("Dir::State::Lists={}/lists", kAptDir),
                                   "-o", fmt::format("Dir::Cache={}/cache", kAptDir),
                                   "-o", "Dir::Cache::pkgcache=",
                                   "-o", "Dir::Cache::srcpkgcache=",
                                   "-o", "Debug::NoLocking=true",
                                   "-o", "Acquire::Retries=0",
                                   "-o", "Acquire::http::Timeout=15",
                                   "-o", "Acquire::https::Timeout=15",
                                   "-o", "Acquire::GzipIndexes=true"};
  if (!configured_apt_sources().empty()) {
    argv.insert(argv.end(), {"-o", fmt::format("Dir::Etc::SourceList={}", kAptSourcesPath), "-o",
                             fmt::format("Dir::Etc::SourceParts={}/sources.list.d", kAptDir)});
  }
  return argv;
}

// Unpacks what apt downloaded into /sandbox/.deb, except packages the root has installed (a
// newer libc6 beside the root's dynamic loader would break every program): those keep the
// root's version. A fixed script: package names reach it only as file names and fields of the
// downloaded archives, always quoted, never as code.
constexpr const char* kUnpackScript = R"SH(set -eu
cd /sandbox/.apt/cache/archives
for deb in *.deb; do
  [ -e "$deb" ] || continue
  package=$(dpkg-deb --field "$deb" Package)
  if [ "$(dpkg-query --show --showformat='${db:Status-Status}' "$package" 2>/dev/null)" = installed ]; then
    echo "isol8: $package is installed in the root; the root's version is kept"
  else
    dpkg-deb --extract "$deb" /sandbox/.deb
    echo "isol8: unpacked $package into /sandbox/.deb"
  fi
  rm -f "$deb"
done
rm -rf /sandbox/.apt/lists
)SH";

SetupCommand command(std::vector<std::string> argv, std::vector<std::string> env,
                     std::chrono::milliseconds timeout) {
  SetupCommand c;
  c.argv = std::move(argv);
  c.env = std::move(env);
  // The mirror variables, unless the runtime's own entries already name one.
  for (auto& e : mirror_environment()) {
    const std::string prefix = e.substr(0, e.find('=') + 1);
    const bool given = std::any_of(c.env.begin(), c.env.end(),
                                   [&](const std::string& v) { return v.starts_with(prefix); });
    if (!given) c.env.push_back(std::move(e));
  }
  c.timeout = timeout;
  c.label = kPackageInstallLabel;
  return c;
}

}  // namespace

Result<void> validate_packages(std::string_view runtime, const std::vector<std::string>& packages) {
  if (runtime != "python" && runtime != "node" && runtime != "bun" && runtime != "deno" &&
      runtime != "bash") {
    return make_error(
        fmt::format("Package installs are not available for runtime \"{}\"", runtime));
  }
  for (const auto& entry : packages) {
    if (!entry_ok(runtime, entry)) {
      return make_error(fmt::format("Invalid package name for {}: \"{}\" (expected {})", runtime,
                                    printable(entry), accepted(runtime)));
    }
  }
  return ok();
}

std::vector<std::string> mirror_environment() {
  std::vector<std::string> env;
  for (const char* name : kMirrorVariables) {
    const char* value = std::getenv(name);
    if (value != nullptr && *value != '\0') env.push_back(std::string(name) + "=" + value);
  }
  return env;
}

std::vector<std::string> deno_registry_environment() {
  const char* upper = std::getenv("NPM_CONFIG_REGISTRY");
  if (upper != nullptr && *upper != '\0') return {std::string("NPM_CONFIG_REGISTRY=") + upper};
  const char* lower = std::getenv("npm_config_registry");
  if (lower != nullptr && *lower != '\0') return {std::string("NPM_CONFIG_REGISTRY=") + lower};
  return {};
}

std::string_view install_tool(std::string_view runtime) {
  if (runtime == "python") return "python3";
  if (runtime == "node") return "npm";
  if (runtime == "bun") return "bun";
  if (runtime == "deno") return "deno";
  if (runtime == "bash") return "apt-get";
  return "";
}

std::string configured_apt_sources() {
  const char* value = std::getenv("ISOL8_APT_SOURCES");
  if (value == nullptr) return "";
  std::string out;
  std::string_view rest(value);
  while (!rest.empty()) {
    const size_t end = rest.find_first_of(";\n");
    std::string_view entry = rest.substr(0, end);
    rest = end == std::string_view::npos ? std::string_view() : rest.substr(end + 1);
    while (!entry.empty() && std::isspace(static_cast<unsigned char>(entry.front()))) {
      entry.remove_prefix(1);
    }
    while (!entry.empty() && std::isspace(static_cast<unsigned char>(entry.back()))) {
      entry.remove_suffix(1);
    }
    if (!entry.empty()) out += std::string(entry) + "\n";
  }
  return out;
}

void add_debian_package_environment(std::vector<std::string>& env) {
  const std::string bins = fmt::format("{0}/usr/local/bin:{0}/usr/bin:{0}/bin", kDebRoot);
  const std::string libs = fmt::format(
      "{0}/usr/local/lib:{0}/usr/lib/{1}:{0}/lib/{1}:{0}/usr/lib:{0}/lib", kDebRoot, kMultiarch);
  auto prepend = [&env](const std::string& name, const std::string& dirs) {
    const std::string prefix = name + "=";
    for (std::string& entry : env) {
      if (!entry.starts_with(prefix)) continue;
      const std::string value = entry.substr(prefix.size());
      if (!value.starts_with(dirs)) entry = prefix + dirs + (value.empty() ? "" : ":" + value);
      return;
    }
    env.push_back(prefix + dirs);
  };
  prepend("PATH", bins);
  prepend("LD_LIBRARY_PATH", libs);
}

std::vector<SetupCommand> install_commands(std::string_view runtime, const std::string& tool,
                                           const std::vector<std::string>& packages,
                                           std::chrono::milliseconds timeout) {
  std::vector<SetupCommand> out;
  if (packages.empty()) return out;
  std::vector<std::string> argv;
  if (runtime == "python") {
    // Upstream's flags (reference 5.10); "--" so that no entry could ever be an option.
    argv = {tool,
            "-m",
            "pip",
            "install",
            "--user",
            "--no-cache-dir",
            "--break-system-packages",
            "--disable-pip-version-check",
            "--no-input",
            "--retries",
            "0",
            "--timeout",
            "15",
            "--"};
    argv.insert(argv.end(), packages.begin(), packages.end());
    out.push_back(command(std::move(argv), {"PYTHONUSERBASE=/sandbox/.local"}, timeout));
  } else if (runtime == "node") {
    argv = {tool, "install", "--prefix", "/sandbox", "--no-audit", "--no-fund", "--"};
    argv.insert(argv.end(), packages.begin(), packages.end());
    out.push_back(
        command(std::move(argv),
                {"NPM_CONFIG_PREFIX=/sandbox/.npm-global", "npm_config_cache=/sandbox/.npm-cache",
                 "npm_config_fetch_retries=0", "npm_config_fetch_retry_mintimeout=1000",
                 "npm_config_fetch_retry_maxtimeout=2000", "npm_config_update_notifier=false"},
                timeout));
  } else if (runtime == "bun") {
    // BUN_INSTALL_GLOBAL_DIR says where: Bun 1.4 refuses upstream's `--global-dir=` flag ("bun
    // add has no --global-dir flag"), and reads what follows "--" as package names.
    argv = {tool, "install", "-g", "--"};
    argv.insert(argv.end(), packages.begin(), packages.end());
    out.push_back(command(
        std::move(argv),
        {"BUN_INSTALL_GLOBAL_DIR=/sandbox/.bun-global", "BUN_INSTALL_CACHE_DIR=/sandbox/.bun-cache",
         "BUN_INSTALL_BIN=/sandbox/.bun-global/bin"},
        timeout));
  } else if (runtime == "deno") {
    // One `deno cache` per specifier, as upstream's chain, each an argv of its own. No "--":
    // Deno 2 passes what follows it to the script as arguments and caches nothing; a specifier
    // starts with npm:, jsr: or https:// (validate_packages), so none reads as an option.
    std::vector<std::string> env = {"DENO_DIR=/sandbox/.deno"};
    for (auto& e : deno_registry_environment()) env.push_back(std::move(e));
    for (const auto& spec : packages) {
      out.push_back(command({tool, "cache", spec}, env, timeout));
    }
  } else if (runtime == "bash") {
    // The directories apt expects, the index, the packages with the dependencies the root
    // lacks (names after "--"), then the unpacking.
    out.push_back(command({kSetupShell, "-c",
                           fmt::format("mkdir -p {0}/lists/partial {0}/cache/archives/partial {1}",
                                       kAptDir, kDebRoot)},
                          {}, timeout));
    argv = apt_options(tool);
    argv.push_back("update");
    out.push_back(command(std::move(argv), {"DEBIAN_FRONTEND=noninteractive"}, timeout));
    argv = apt_options(tool);
    argv.insert(argv.end(),
                {"install", "--download-only", "--yes", "--no-install-recommends", "--"});
    argv.insert(argv.end(), packages.begin(), packages.end());
    out.push_back(command(std::move(argv), {"DEBIAN_FRONTEND=noninteractive"}, timeout));
    out.push_back(command({kSetupShell, "-c", kUnpackScript}, {}, timeout));
  }
  return out;
}

}  // namespace isol8
