#include "support/runs.h"

#include <sstream>

#include "support/cli.h"
#include "support/files.h"

namespace isol8::test {

void CollectingSink::on_output(OutputStream stream, std::string_view data) {
  (stream == OutputStream::kStdout ? out : err).append(data);
  (setup_code ? code_phase : setup_phase).append(data);
}

void CollectingSink::on_setup_output(OutputStream stream, std::string_view data) {
  (stream == OutputStream::kStdout ? setup_out : setup_err).append(data);
}

BackendRun run_spec(Backend& backend, const RunSpec& spec) {
  CollectingSink sink;
  RunControl control{};
  auto outcome = backend.run(spec, sink, control);
  BackendRun r;
  if (!outcome) {
    r.error = outcome.error().message;
    return r;
  }
  r.ok = true;
  r.exit_code = outcome->exit_code;
  r.out = sink.out;
  r.err = sink.err;
  r.logs = outcome->network_logs;
  return r;
}

Result<ExecutionResult> execute_once(Options options, const ExecutionRequest& request) {
  auto engine = Engine::create(std::move(options));
  if (!engine) return std::move(engine).error();
  return (*engine)->execute(request);
}

std::string probe_bytes() { return slurp(kProbeBinary); }

ProbeRun run_probe(Options options, ExecutionRequest request, ProbeVia via) {
  ProbeRun run;
  if (via == ProbeVia::kBash) {
    request.runtime = "bash";
    request.cmd = "cat > /sandbox/probe && chmod +x /sandbox/probe && exec /sandbox/probe";
  } else {
    request.runtime = "python";
    request.code =
        "import os, sys\n"
        "with open('/sandbox/probe', 'wb') as f:\n"
        "    f.write(sys.stdin.buffer.read())\n"
        "os.chmod('/sandbox/probe', 0o755)\n"
        "os.execv('/sandbox/probe', ['/sandbox/probe'])\n";
  }
  request.stdin_data = probe_bytes();
  if (request.stdin_data->empty()) {
    run.error = std::string("cannot read the probe binary ") + kProbeBinary;
    return run;
  }
  auto engine = Engine::create(std::move(options));
  if (!engine) {
    run.error = "Engine::create: " + engine.error().message;
    return run;
  }
  auto result = (*engine)->execute(request);
  if (!result) {
    run.error = "execute: " + result.error().message;
    return run;
  }
  run.result = *result;
  if (result->exit_code != 0) {
    run.error =
        "probe exited " + std::to_string(result->exit_code) + ", stderr: " + result->stderr_data;
    return run;
  }
  run.report = nlohmann::json::parse(result->stdout_data, nullptr, /*allow_exceptions=*/false);
  if (run.report.is_discarded()) run.error = "probe output is not JSON: " + result->stdout_data;
  return run;
}

std::string describe(const ExecutionResult& r) {
  std::ostringstream s;
  s << "exit=" << r.exit_code << " status=" << to_string(r.status) << " signal=" << r.term_signal
    << " oom=" << r.oom_killed << " truncated=" << r.truncated << " duration_ms=" << r.duration_ms
    << "\n--- stdout (" << r.stdout_data.size() << " bytes) ---\n"
    << r.stdout_data.substr(0, 3000) << "\n--- stderr (" << r.stderr_data.size() << " bytes) ---\n"
    << r.stderr_data.substr(0, 3000);
  return s.str();
}

}  // namespace isol8::test
