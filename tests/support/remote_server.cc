#include "support/remote_server.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include <nlohmann/json.hpp>

#include "support/files.h"
#include "support/net.h"

namespace isol8::test {

namespace {

// The server's policy lets clients loosen everything a local run may (server.limits maxima at the
// parsers' own bounds, every server.allow): the suite compares remote runs with local ones; the
// policy itself is the server tier's subject.
void allow_everything_local_runs_may(const std::string& config_file) {
  nlohmann::json config = nlohmann::json::object();
  if (::access(config_file.c_str(), F_OK) == 0) config = nlohmann::json::parse(slurp(config_file));
  config["server"]["limits"] = {
      {"timeoutMs", 86'400'000}, {"memoryLimit", "1t"},         {"cpuLimit", 1024},
      {"pidsLimit", 1'000'000},  {"maxOutputSize", 1073741824}, {"sandboxSize", "1t"},
      {"tmpSize", "1t"}};
  config["server"]["allow"] = {{"network", "host"},     {"seccompUnconfined", true},
                               {"seccompCustom", true}, {"writableRootFs", true},
                               {"debug", true},         {"persist", true},
                               {"remoteCode", true}};
  spit(config_file, config.dump());
}

}  // namespace

RemoteServer::RemoteServer(const std::string& dir) {
  allow_everything_local_runs_may(dir + "/isol8.config.json");
  {
    LoopbackListener probe;  // a port the kernel considers free, released at once
    port_ = probe.port();
  }
  CliOptions opts;
  opts.cwd = dir;
  opts.env["HOME"] = dir;
  opts.env["ISOL8_API_KEY"] = std::nullopt;
  opts.hang_limit = std::chrono::minutes(30);  // a bound on the whole test, not a timing check
  process_.emplace(std::vector<std::string>{"serve", "--port", std::to_string(port_), "--key", kKey,
                                            "--bind", "127.0.0.1"},
                   opts);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (!tcp_connects("127.0.0.1", static_cast<uint16_t>(port_))) {
    siginfo_t info{};
    const bool exited = ::waitid(P_PID, static_cast<id_t>(process_->pid()), &info,
                                 WEXITED | WNOHANG | WNOWAIT) == 0 &&
                        info.si_pid != 0;
    if (exited || std::chrono::steady_clock::now() > deadline) {
      const CliRun run = stop();
      failure_ = "isol8 serve did not listen on port " + std::to_string(port_) + ": " + run.err;
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

RemoteServer::~RemoteServer() { stop(); }

std::string RemoteServer::url() const { return "http://127.0.0.1:" + std::to_string(port_); }

std::vector<std::string> RemoteServer::run_flags() const {
  return {"--host", url(), "--key", kKey};
}

CliRun RemoteServer::stop() {
  if (!stopped_) {
    process_->signal(SIGTERM);
    stopped_ = process_->wait();
  }
  return *stopped_;
}

}  // namespace isol8::test
