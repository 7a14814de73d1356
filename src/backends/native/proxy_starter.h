#pragma once
// The one place where the native backend meets the filtering proxy (src/proxy): a run of the
// filtered mode starts one proxy that listens where its sandbox can reach it, and hands its logs
// back after the run. Tests may pass their own starter.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "isol8/result.h"
#include "isol8/types.h"

namespace isol8 {

class RunProxy {
 public:
  virtual ~RunProxy() = default;  // stops the proxy
  virtual std::vector<NetworkLogEntry> take_logs() = 0;
};

struct ProxyListen {
  std::string tcp_address;  // empty: no TCP listener
  uint16_t tcp_port = 0;
  std::string unix_path;  // empty: no Unix listener
};

using ProxyStarter = std::function<Result<std::unique_ptr<RunProxy>>(
    const NetworkFilter& filter, bool log_network, const ProxyListen& listen)>;

// The FilteringProxy (src/proxy), listening where `listen` says (a Unix socket is made 0666).
ProxyStarter builtin_proxy_starter();

}  // namespace isol8
