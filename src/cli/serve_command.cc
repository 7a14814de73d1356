// `isol8 serve [-p port] [-k key] [--auth-db conn] [--bind addr] [--debug]` (reference §1.7):
// the execution server of src/server. Key from --key or ISOL8_API_KEY; port from --port >
// ISOL8_PORT > PORT > 3000; DB keys from --auth-db or config auth.enabled; --node-id and
// --advertise-url make it one node of several (docs/cluster.md).

#include <cstdlib>
#include <iostream>

#include "cli/commands.h"
#include "server/key_store.h"
#include "server/server.h"
#include "server/server_settings.h"

namespace isol8::cli {

CLI::App* add_serve_command(CLI::App& app, ServeArgs& args) {
  auto* cmd = app.add_subcommand("serve", "Start the isol8 remote execution server");
  cmd->add_option("-p,--port", args.port,
                  "Port to listen on (default: ISOL8_PORT, then PORT, then 3000)");
  cmd->add_option("-k,--key", args.key, "API key for Bearer auth (default: ISOL8_API_KEY)");
  cmd->add_option("--auth-db", args.auth_db,
                  "Enable DB-backed API keys: a SQLite file path (config auth.enabled uses "
                  "~/.isol8/auth.db)");
  cmd->add_option("--bind", args.bind,
                  "Address to listen on (default: config server.bind, else 0.0.0.0)");
  cmd->add_option("--node-id", args.node_id,
                  "This node's id when several servers share one PostgreSQL auth DB behind a load "
                  "balancer (config server.cluster.nodeId; docs/cluster.md)");
  cmd->add_option("--advertise-url", args.advertise_url,
                  "How the other nodes reach this one (default http://127.0.0.1:<port>)");
  cmd->add_flag("--update", args.update,
                "Accepted for compatibility (upstream downloads its server binary; this one is "
                "built in)");
  cmd->add_flag("--debug", args.debug, "Debug logging on stderr");
  return cmd;
}

int serve_command(const ServeArgs& args, const LoadedConfig& config) {
  std::string key = args.key.value_or("");
  if (key.empty()) {
    if (const char* env = std::getenv("ISOL8_API_KEY"); env != nullptr) key = env;
  }
  if (key.empty()) return report_error("API key required. Use --key or ISOL8_API_KEY env var.");
  auto port = server::resolve_port(args.port, std::getenv("ISOL8_PORT"), std::getenv("PORT"));
  if (!port) return report_error(port.error().message);
  auto options = options_from_config(config.json);
  if (!options) return report_error(options.error().message);
  auto settings = server::settings_from_config(config.json, std::move(options).value());
  if (!settings) return report_error(settings.error().message);
  settings->master_key = std::move(key);
  settings->port = port->first;
  settings->port_source = port->second;
  settings->debug = args.debug;
  if (args.bind) settings->bind_address = *args.bind;
  if (args.auth_db) settings->auth_db = *args.auth_db;
  if (auto cluster = server::finish_cluster_settings(*settings, args.node_id, args.advertise_url);
      !cluster) {
    return report_error(cluster.error().message);
  }
  std::unique_ptr<server::KeyStore> store;
  if (settings->auth_db) {
    auto opened = server::open_key_store(*settings->auth_db);
    if (!opened) return report_error(opened.error().message);
    store = std::move(opened).value();
  }
  return server::run_server(std::move(settings).value(), std::move(store));
}

}  // namespace isol8::cli
