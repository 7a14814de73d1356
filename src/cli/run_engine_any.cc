// isol8-full's engines for `isol8 run`: local ones of every backend, and a server's (--host).

#include <chrono>
#include <iostream>

#include <fmt/format.h>

#include "cli/commands.h"
#include "client/remote_engine.h"
#include "common/server_url.h"
#include "isol8/engine.h"

namespace isol8::cli {
namespace {

// `--host`: the server's engine, with upstream's session handling: --session-id names a server
// session that outlives the run; --persistent alone makes one up for this run and deletes it.
Result<std::unique_ptr<Executor>> connect_remote(const RunArgs& args, const Options& options) {
  auto url = parse_server_url(*args.host);
  if (!url) return std::move(url).error();
  auto key = resolve_api_key(args.key, url->canonical());
  if (!key) return std::move(key).error();
  client::RemoteSettings settings{*url, *key, args.session_id, false};
  if (!args.session_id && args.persistent) {
    const auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::system_clock::now().time_since_epoch());
    settings.session_id = fmt::format("cli-{}", now.count());
    settings.owns_session = true;
  }
  if (settings.session_id && !args.json) {
    std::cout << "[Run] Session ID: " << *settings.session_id << std::endl;
  }
  auto remote = client::RemoteEngine::connect(std::move(settings), options);
  if (!remote) return std::move(remote).error();
  return std::unique_ptr<Executor>(std::move(remote).value());
}

}  // namespace

Result<std::unique_ptr<Executor>> make_any_run_engine(const RunArgs& args, const Options& options) {
  if (args.host) return connect_remote(args, options);
  auto engine = Engine::create(options);
  if (!engine) return std::move(engine).error();
  return std::unique_ptr<Executor>(std::move(engine).value());
}

}  // namespace isol8::cli
