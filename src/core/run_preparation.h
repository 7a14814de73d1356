#pragma once
// Turns a request and the engine options into a RunSpec for a backend: validation, runtime and
// interpreter resolution, argv, environment, working directory. Pure apart from asking the
// backend whether the interpreter exists.

#include <string>
#include <vector>

#include "backends/backend.h"
#include "core/install_network.h"
#include "core/runtimes.h"
#include "isol8/types.h"

namespace isol8 {

struct PreparedRun {
  RunSpec spec;
  const Runtime* runtime = nullptr;
  std::vector<std::string> secret_values;
};

// Inline code longer than this (or holding a NUL byte) goes through /sandbox/main<ext> instead,
// since one execve argument may not exceed 128 KiB.
inline constexpr size_t kMaxInlineCode = 64 * 1024;

// Why an install with `--net none` is refused.
inline constexpr const char* kInstallNeedsNetwork =
    "Package installs need the network to reach the package registry, but the network mode is "
    "\"none\". Leave --net out (installs then use the filtered network with the registry "
    "allowed), or use --net filtered (allow the registry's hosts) or --net host.";

Result<PreparedRun> prepare_run(const ExecutionRequest& request, const Options& options,
                                const Backend& backend);

// `Working directory must be inside /sandbox` unless `path`, resolved against /sandbox, is
// /sandbox or below it.
Result<std::string> resolve_workdir(std::string_view path);

// The absolute path under /sandbox for an injected file (absolute, or relative to /sandbox);
// `File path must be inside /sandbox: <path>` otherwise.
Result<std::string> resolve_file_path(std::string_view path);

// The absolute, normalised path of a file transfer (put_file, get_file, outputPaths): absolute,
// or relative to /sandbox; strictly inside /sandbox or /tmp; no ".." component at all (a path
// that climbs is refused, not resolved), no NUL byte.
Result<std::string> resolve_transfer_path(std::string_view path);

}  // namespace isol8
