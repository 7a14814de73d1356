#pragma once
// A persistent session on Docker (Backend::open_session): one container for every execution of
// a persistent engine, as upstream's persistent container, with upstream's gaps closed.
//
// The container has the one-shot container's HostConfig (container_spec.h: read-only root, tmpfs
// /sandbox and /tmp, no capability, no-new-privileges, seccomp, memory/pids/CPU limits, network
// none/host, or none plus the filtering proxy's socket and relay for "filtered") and idles like a
// pooled one: docker-init and `sleep infinity` as nobody (kIdleUser), so that no process of the
// sandbox user can end the session by killing them, and no process in the container is root.
// (A one-shot container's pid 1 is root and drops to the sandbox user with setpriv; a session
// does not, because every later execution would start as that root process with the request's
// environment, LD_PRELOAD pointing at a library an earlier execution left in /sandbox included.)
// Labels: isol8.managed, isol8.runtime, isol8.backend, isol8.session and isol8.owner (the runner
// process; reclaim.h removes the container when that runner was killed; `isol8 cleanup` always).
//
// Each execution is one exec as the sandbox user (100:101): kPidPrelude, then the invocation of
// invocation.h (tar of the code file, files and setup script ahead of stdin on the exec's stdin;
// the setup phase marker), with the execution's own env (secrets included) on top of the
// image's, its own time limit and output caps. A timeout or a cancel kills the execution's
// session (kExecKillScript, from a second exec), not the container. The exit code comes from
// exec inspect; an OOM kill from the container's oom_kill counter, read when the exit code says
// SIGKILL. Files are transferred through an exec's stdin and stdout (session_scripts.h): the
// Engine API's archive endpoints do not see a running container's tmpfs mounts (PUT fails with
// "container rootfs is marked read-only", GET answers "Could not find the file" for a file that
// is there), and /sandbox and /tmp are tmpfs mounts.

#include <memory>
#include <string>

#include "backends/backend.h"
#include "backends/docker/client.h"
#include "backends/docker/container_spec.h"

namespace isol8::docker {

// Creates and starts the container from the sandbox-level fields of `spec` (its env, the first
// request's, is not the container's: each exec gets its own) with `params` (runtime, seccomp,
// owner; cmd, session and filtered are set here). `image_setup`: the image's own setup script
// (kSetupLabel), run once, before the first execution's own.
Result<std::unique_ptr<Session>> open_session(std::shared_ptr<DockerClient> client,
                                              const RunSpec& spec, CreateParams params,
                                              std::string image_setup);

}  // namespace isol8::docker
