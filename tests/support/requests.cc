#include "support/requests.h"

#include <chrono>

namespace isol8::test {

ExecutionRequest bash_request(std::string cmd) {
  ExecutionRequest r;
  r.runtime = "bash";
  r.cmd = std::move(cmd);
  return r;
}

ExecutionRequest python_request(std::string code) {
  ExecutionRequest r;
  r.runtime = "python";
  r.code = std::move(code);
  return r;
}

ExecutionRequest binary_request(const std::string& binary, const std::string& args) {
  ExecutionRequest r;
  r.runtime = "bash";
  r.cmd = "cat > /sandbox/x && chmod +x /sandbox/x && exec /sandbox/x " + args;
  r.stdin_data = binary;
  return r;
}

RunSpec python_spec(const std::string& code, NetworkMode mode) {
  RunSpec spec;
  spec.argv = {"/usr/bin/python3", "-c", code};
  spec.env = {"PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin", "HOME=/sandbox", "LANG=C.UTF-8"};
  spec.network = mode;
  spec.timeout = std::chrono::milliseconds(60000);
  return spec;
}

}  // namespace isol8::test
