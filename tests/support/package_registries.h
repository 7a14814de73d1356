#pragma once
// Package registries for `--install`, served on this machine (root): a PyPI "simple" index holding
// a wheel built here with zipfile, an npm registry holding a packument and a tarball made with
// `npm pack`, and a flat Debian repository (packages built with dpkg-deb, indexed with
// dpkg-scanpackages), all served by one python HTTP server in a network namespace of its own,
// joined to the host by a veth: <subnet>.1 on the host, <subnet>.2 inside. The CLI reaches them by
// the names pypi.test, registry.test and debian.test through a hosts file bind-mounted over
// /etc/hosts in a mount namespace of its own (hosts_launcher()), pointed there by the mirror
// variables (mirror_env()). Nothing leaves the machine. The network tier's install tests and
// bench/install_bench use it.

#include <sys/types.h>

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "isol8/result.h"

namespace isol8::test {

// What the registries hold:
//   python  kWheelPackage: `import isol8_test_pkg; isol8_test_pkg.greet(who)` returns
//           "hello <who> from the wheel"
//   npm     kNpmPackage: `require('isol8-test-dep').greet(who)` returns "hello <who> from the
//           tarball" (deno: the default export of npm:isol8-test-dep)
//   Debian  kDebianPackage: the program isol8-greet prints "hello from the library of a deb" with
//           its shared library libisol8greet1; it also depends on a "bash" 99.0 (a fake that an
//           install must not unpack over the root's)
inline constexpr const char* kWheelPackage = "isol8-test-pkg";
inline constexpr const char* kNpmPackage = "isol8-test-dep";
inline constexpr const char* kDebianPackage = "isol8-greet";

class PackageRegistries {
 public:
  // Builds the packages under `dir` (which must exist and outlive the registries) and serves
  // them at <subnet>.2:80 (a /24 of the documentation ranges, e.g. "203.0.113"; the filtering
  // proxy allows those). The npm registry is left out (has_npm() false) when the host has no
  // /usr/bin/npm. Any request whose path contains "slow" hangs for a minute (for time limits).
  static Result<std::unique_ptr<PackageRegistries>> start(const std::string& dir,
                                                          const std::string& subnet);
  ~PackageRegistries();
  PackageRegistries(const PackageRegistries&) = delete;
  PackageRegistries& operator=(const PackageRegistries&) = delete;

  // "<subnet>.2": the address the names resolve to.
  const std::string& address() const { return address_; }
  bool has_npm() const { return has_npm_; }
  // The paths asked for so far, one per line.
  std::string requests() const;

  // The mirror variables pointing pip, npm, bun, deno and apt at the registries (for
  // CliOptions::env; the ones that would redirect them elsewhere are removed).
  std::map<std::string, std::optional<std::string>> mirror_env() const;
  // ISOL8_APT_SOURCES's value for the Debian repository.
  static std::string apt_sources();
  // A CliOptions::launcher: the CLI in a mount namespace of its own whose /etc/hosts names the
  // registries (pypi.test, registry.test, debian.test, and other.test, which serves the same).
  std::vector<std::string> hosts_launcher() const;

 private:
  PackageRegistries(std::string dir, std::string subnet);
  Result<void> build();
  Result<void> build_npm_package();
  Result<void> serve();

  std::string dir_;
  std::string subnet_;
  std::string address_;
  std::string root_;  // the served directory
  std::string log_;
  std::string host_if_;
  pid_t server_ = -1;
  bool has_npm_ = false;
};

}  // namespace isol8::test
