#pragma once
// The test support library (isol8_test_support, tests/support): one place for the helpers every
// tier uses. Include this header, or only the part you need. Each helper exists once; add a new
// one to the header of its concern (and its .cc), not to a test file.
//
//   files.h            slurp/spit, contains, rtrim, lines_of, without_warnings;
//                      TempDir (a temp directory removed at scope exit)
//   cli.h              the isol8 binary: run_cli(args, stdin), run_cli_with(args, CliOptions{cwd,
//                      env, input, hang_limit, launcher}), CliProcess (signal it while it runs),
//                      IsolatedCli (own cwd/HOME), describe(CliRun); kIsol8Binary, kProbeBinary,
//                      kRelayBinary, kSourceDir
//   requests.h         bash_request, python_request, binary_request (ExecutionRequest);
//                      python_spec (RunSpec for a backend)
//   runs.h             CollectingSink; run_spec(backend, spec) -> BackendRun; execute_once;
//                      run_probe (the probe's JSON report from inside a sandbox); describe(result)
//   host_state.h       processes and host uids, cmdlines, children, a process's footprint
//                      (fds, threads, RSS), mounts (without the Docker daemon's),
//                      isol8 cgroups of a runner; sh/sh_out
//   net.h              tcp_connects, LoopbackListener (loopback only)
//   package_registries.h  PackageRegistries: PyPI, npm and Debian registries served in a network
//                      namespace of their own (root), for --install (tests and bench/)
//   sandbox_fixtures.h sandbox_unavailable_reason; NativeTest (skips without root/userns);
//                      LeakCheckedTest (no sandbox process or host mount left behind)
//   docker_ready.h     docker_unavailable_reason (the one "is docker ready" check),
//                      isol8_container_count, ISOL8_REQUIRE_DOCKER
//   backend_params.h   the one backend parametrisation: backends_under_test, BackendTest,
//                      BackendCaseTest, ISOL8_BACKEND_SUITE / ISOL8_BACKEND_CASES,
//                      backend_options, backend_cli_flags, backend_unavailable_reason;
//                      CliBackendTest / ISOL8_CLI_SUITE: the CLI suites, also through a server
//   remote_server.h    RemoteServer: `isol8 serve` in a test's directory (the remote kind)
//   cbpf_eval.h        run_seccomp_bpf: what a seccomp program returns for a seccomp_data
//   seccomp_profiles.h profile_or_fail: a profile parsed from JSON in a test
//   fake_backend.h     FakeBackend: a Backend that knows executables and runs nothing (unit tests)
//   test_pki.h         (library isol8_test_pki) a CA and server certificate made in memory

#include "support/backend_params.h"
#include "support/cbpf_eval.h"
#include "support/cli.h"
#include "support/docker_ready.h"
#include "support/fake_backend.h"
#include "support/files.h"
#include "support/host_state.h"
#include "support/net.h"
#include "support/package_registries.h"
#include "support/remote_server.h"
#include "support/requests.h"
#include "support/runs.h"
#include "support/sandbox_fixtures.h"
#include "support/seccomp_profiles.h"
