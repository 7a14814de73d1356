#pragma once
// The container settings of a run, as the Engine API's create-request JSON. PURE (no I/O): the
// hardened settings of reference §5.1 with upstream's gaps closed, golden-tested in
// tests/unit/docker_container_spec_test.cc:
//   ReadonlyRootfs; tmpfs /sandbox (exec, owned by the sandbox user) and /tmp (noexec); every
//   process of the run as 100:101 with every capability dropped (pid 1 apart: kInitUser
//   below); no-new-privileges; the seccomp profile inline (or
//   unconfined); pids, memory (swap equal to memory: no swap), CPU limits; network none
//   (loopback only) or host; labels that `isol8 cleanup` selects on, and the owner's (the
//   runner process) that the next runner reclaims by when the owner was killed.
// Filtered network: also "none" (the container has no interface but lo, and no capability to
// make one: upstream adds NET_ADMIN for its in-container iptables, isol8 adds nothing), plus
// two read-only bind mounts, the runner's filtering-proxy Unix socket and the static
// isol8-relay, which the bootstrap starts on 127.0.0.1:8118; HTTP(S)_PROXY point there.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "backends/backend.h"
#include "common/sandbox_user.h"

namespace isol8::docker {

using isol8::kSandboxUser;
// A one-shot container's pid 1 (docker-init) runs as root, with only the capabilities needed to
// become the sandbox user, and every process of the run starts as `setpriv` dropping to it (and
// dropping every capability, the bounding set too) before anything else runs. So pid 1 does not
// share the sandbox user's uid: the program cannot read its /proc/1/root, cwd or environ, nor
// signal or ptrace it, as in the native sandbox, whose init is non-dumpable. When pid 1 ran as
// uid 100 too, /proc/1/root was the program's to read. setpriv is util-linux's, which is
// Essential in Debian, so every isol8 image has it.
inline constexpr const char* kInitUser = "0:0";
inline constexpr const char* kInitCapabilities[] = {"SETUID", "SETGID", "SETPCAP"};
// Pooled containers idle as nobody, so that killing every uid-100 process before reuse (from an
// exec running as uid 100, `kill -9 -1`) cannot hit the idle process.
inline constexpr const char* kIdleUser = "65534:65534";

// Paths inside the container of a filtered run's bind mounts.
inline constexpr const char* kProxySocketInContainer = "/.isol8/proxy.sock";
inline constexpr const char* kRelayInContainer = "/.isol8/relay";
inline constexpr uint16_t kRelayPort = 8118;

// The label that names the runner process a container belongs to (common/process_owner.h), so
// that a later runner can remove the containers of one that was SIGKILLed.
inline constexpr const char* kOwnerLabel = "isol8.owner";
// The label of a persistent session's container.
inline constexpr const char* kSessionLabel = "isol8.session";

// Host paths bind-mounted into a filtered run's container.
struct FilteredMounts {
  std::string proxy_socket;  // the runner's FilteringProxy Unix listener
  std::string relay;         // the static isol8-relay binary
};

struct CreateParams {
  std::vector<std::string> cmd;
  std::string runtime;  // label isol8.runtime
  std::string owner;    // label kOwnerLabel (format_owner of the runner); none when empty
  std::optional<std::string> seccomp_profile;  // Docker-format JSON; nullopt = unconfined
  bool open_stdin = false;                     // attach stdin (closed after the payload)
  bool pooled = false;  // idle process as kIdleUser; execs run the code as kSandboxUser
  // A persistent session's container (session.h): idles like a pooled one (no root process, no
  // capability at all, execs as kSandboxUser), may be filtered (the proxy lives as long as the
  // session), and carries kSessionLabel.
  bool session = false;
  // Kept after the run (RunSpec::persist): label kPersistLabel, and no owner, so that no later
  // runner reclaims it as a killed run's; `isol8 cleanup` removes it.
  bool persist = false;
  std::optional<FilteredMounts> filtered;  // required for NetworkMode::kFiltered
};

// Errors: a filtered network without FilteredMounts, or pooled (a pooled container outlives
// the run's proxy).
Result<nlohmann::json> make_create_request(const RunSpec& spec, const CreateParams& params);

// `cmd` run as the sandbox user with no capability left (the prefix a one-shot container's Cmd
// gets, under a pid 1 running as kInitUser).
std::vector<std::string> as_sandbox_user(const std::vector<std::string>& cmd);

// The exec-create JSON of a pooled run (same env and user as a one-shot container's process).
nlohmann::json make_exec_request(const RunSpec& spec, const std::vector<std::string>& cmd);

// argv with an interpreter path under /usr/local/bin, /usr/bin or /bin reduced to its name, so
// that the image's PATH finds it wherever the image keeps it.
std::vector<std::string> image_argv(const std::vector<std::string>& argv);

}  // namespace isol8::docker
