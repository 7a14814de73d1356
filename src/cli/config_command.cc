#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "cli/commands.h"

namespace isol8::cli {
namespace {

std::string list_or_none(const nlohmann::json& list) {
  if (list.empty()) return "(none)";
  std::string out;
  for (const auto& item : list) {
    if (!out.empty()) out += ", ";
    out += item.get<std::string>();
  }
  return out;
}

std::string scalar(const nlohmann::json& v) {
  return v.is_string() ? v.get<std::string>() : v.dump();
}

}  // namespace

CLI::App* add_config_command(CLI::App& app, ConfigArgs& args) {
  auto* cmd = app.add_subcommand("config", "Display the resolved configuration");
  cmd->add_flag("--json", args.json, "Print the merged configuration as JSON");
  return cmd;
}

int config_command(const ConfigArgs& args, const LoadedConfig& config) {
  const nlohmann::json& c = config.json;
  if (args.json) {
    fmt::print("{}\n", c.dump(2));
    return 0;
  }
  const auto& d = c["defaults"];
  const auto& rc = c["remoteCode"];
  const auto& cleanup = c["cleanup"];
  const auto& pool = c["poolSize"];
  fmt::print("Config source: {}\n\n",
             config.source ? config.source->string() : "defaults (no config file found)");
  fmt::print("General\n  Backend:          {}\n  Max concurrent:   {}\n  Debug:            {}\n\n",
             scalar(c["backend"]), scalar(c["maxConcurrent"]), scalar(c["debug"]));
  fmt::print(
      "Defaults\n  Timeout:          {}ms\n  Memory:           {}\n  CPU:              {}\n"
      "  Network:          {}\n  Sandbox size:     {}\n  Tmp size:         {}\n\n",
      scalar(d["timeoutMs"]), scalar(d["memoryLimit"]), scalar(d["cpuLimit"]), scalar(d["network"]),
      scalar(d["sandboxSize"]), scalar(d["tmpSize"]));
  fmt::print("Network Filter\n  Whitelist:        {}\n  Blacklist:        {}\n\n",
             list_or_none(c["network"]["whitelist"]), list_or_none(c["network"]["blacklist"]));
  fmt::print(
      "Remote Code\n  Enabled:          {}\n  Schemes:          {}\n  Max size:         {} bytes\n"
      "  Fetch timeout:    {}ms\n  Require hash:     {}\n  Blocked hosts:    {}\n\n",
      scalar(rc["enabled"]), list_or_none(rc["allowedSchemes"]), scalar(rc["maxCodeSize"]),
      scalar(rc["fetchTimeoutMs"]), scalar(rc["requireHash"]), list_or_none(rc["blockedHosts"]));
  const double idle_ms = cleanup["maxContainerAgeMs"].get<double>();
  fmt::print("Cleanup\n  Auto-prune:       {}\n  Max idle:         {}ms ({} minutes)\n\n",
             scalar(cleanup["autoPrune"]), scalar(cleanup["maxContainerAgeMs"]), idle_ms / 60000.0);
  fmt::print("Pool Defaults (Serve)\n  Strategy:         {}\n  Size:             {}\n\n",
             scalar(c["poolStrategy"]),
             pool.is_object() ? fmt::format("{},{}", scalar(pool["clean"]), scalar(pool["dirty"]))
                              : scalar(pool));
  const auto& n = c["native"];
  fmt::print(
      "Native Backend\n  Root:             {}\n  Id map base:      {}\n  Hostname:         {}\n",
      n.contains("rootDir") ? scalar(n["rootDir"]) : "host system directories (read-only)",
      scalar(n["idMapBase"]), scalar(n["hostname"]));
  return 0;
}

}  // namespace isol8::cli
