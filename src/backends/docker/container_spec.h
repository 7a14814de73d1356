#pragma once
// The container settings of a run, as the Engine API's create-request JSON. PURE (no I/O): the
// hardened settings of reference §5.1 with upstream's gaps closed, golden-tested in
// tests/unit/docker_container_spec_test.cc:
//   ReadonlyRootfs; tmpfs /sandbox (exec, owned by the sandbox user) and /tmp (noexec); user
//   100:101; every capability dropped; no-new-privileges; the seccomp profile inline (or
//   unconfined); pids, memory (swap equal to memory: no swap), CPU limits; network none
//   (loopback only) or host; labels that `isol8 cleanup` selects on.

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "backends/backend.h"

namespace isol8::docker {

inline constexpr const char* kSandboxUser = "100:101";
// Pooled containers idle as nobody, so that killing every uid-100 process before reuse (from an
// exec running as uid 100, `kill -9 -1`) cannot hit the idle process.
inline constexpr const char* kIdleUser = "65534:65534";

struct CreateParams {
  std::vector<std::string> cmd;
  std::string runtime;                         // label isol8.runtime
  std::optional<std::string> seccomp_profile;  // Docker-format JSON; nullopt = unconfined
  bool open_stdin = false;                     // attach stdin (closed after the payload)
  bool pooled = false;  // idle process as kIdleUser; execs run the code as kSandboxUser
};

// Errors: filtered network (not available yet on this backend).
Result<nlohmann::json> make_create_request(const RunSpec& spec, const CreateParams& params);

// The exec-create JSON of a pooled run (same env and user as a one-shot container's process).
nlohmann::json make_exec_request(const RunSpec& spec, const std::vector<std::string>& cmd);

// argv with an interpreter path under /usr/local/bin, /usr/bin or /bin reduced to its name, so
// that the image's PATH finds it wherever the image keeps it.
std::vector<std::string> image_argv(const std::vector<std::string>& argv);

}  // namespace isol8::docker
