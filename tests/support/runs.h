#pragma once
// Run something and collect what it did: a backend run into a CollectingSink, an engine run on a
// fresh engine, the probe (tests/probe) inside a sandbox with its JSON report parsed.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "backends/backend.h"
#include "isol8/engine.h"

namespace isol8::test {

// An OutputSink that keeps everything: the program's stdout/stderr (out, err), the setup
// script's (setup_out, setup_err) and its exit code, and all output in the order of the phases
// (setup_phase: what came before the setup's exit was reported, code_phase: after).
struct CollectingSink final : OutputSink {
  void on_output(OutputStream stream, std::string_view data) override;
  void on_setup_output(OutputStream stream, std::string_view data) override;
  void on_setup_exit(int code) override { setup_code = code; }

  std::string out, err;
  std::string setup_out, setup_err;
  std::string setup_phase, code_phase;
  std::optional<int> setup_code;
};

// What Backend::run did: ok with the exit code, output and network log, or the error.
struct BackendRun {
  bool ok = false;
  std::string error;
  int exit_code = -1;
  std::string out;
  std::string err;
  std::vector<NetworkLogEntry> logs;
};

// Runs `spec` on `backend` (no cancellation) and collects it.
BackendRun run_spec(Backend& backend, const RunSpec& spec);

// Runs `request` through a fresh engine made from `options`.
Result<ExecutionResult> execute_once(Options options, const ExecutionRequest& request);

// The probe binary's bytes ("" when it cannot be read).
std::string probe_bytes();

struct ProbeRun {
  std::string error;  // empty on success
  ExecutionResult result;
  nlohmann::json report;
  bool ok() const { return error.empty(); }
};

enum class ProbeVia {
  // bash: `cat > /sandbox/probe && chmod +x /sandbox/probe && exec /sandbox/probe`. bash exports
  // PWD, SHLVL and _ to what it runs.
  kBash,
  // python3 writes the probe and execv()s it: python adds nothing to the environment, so the
  // probe sees exactly the sandbox's environment, and it is the sandbox's program (ppid 1).
  kPython,
};

// Runs the probe in a sandbox of a fresh engine (`request` for limits, env, ...; its runtime,
// code and stdin are set here) and parses its report; error says what went wrong, if anything.
ProbeRun run_probe(Options options, ExecutionRequest request = {}, ProbeVia via = ProbeVia::kBash);

// A readable summary of an engine result for assertion messages.
std::string describe(const ExecutionResult& r);

}  // namespace isol8::test
