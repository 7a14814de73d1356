#include <cmath>

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "cli/commands.h"

namespace isol8::cli {
namespace {

using nlohmann::json;

std::string joined(const json& list) {
  std::string out;
  for (const auto& item : list) {
    if (!out.empty()) out += ", ";
    out += item.is_string() ? item.get<std::string>() : item.dump();
  }
  return out;
}

std::string list_or_none(const json& list) { return list.empty() ? "(none)" : joined(list); }

// A value as upstream's template strings print it: strings bare, whole numbers without ".0".
std::string scalar(const json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_number_float()) return fmt::format("{}", v.get<double>());
  return v.dump();
}

std::string yes_no(const json& v) { return v.is_boolean() && v.get<bool>() ? "yes" : "no"; }

// Upstream's layout: a section heading, then "  <label>" padded to 17 columns and the value.
void heading(const char* title) { fmt::print("\n  ── {} ──\n", title); }
void line(const std::string& label, const std::string& value) {
  fmt::print("  {:<17}{}\n", label + ":", value);
}

}  // namespace

CLI::App* add_config_command(CLI::App& app, ConfigArgs& args) {
  auto* cmd = app.add_subcommand("config", "Show the resolved isol8 configuration");
  cmd->add_flag("--json", args.json, "Output as raw JSON");
  return cmd;
}

int config_command(const ConfigArgs& args, const LoadedConfig& config) {
  const json& c = config.json;
  if (args.json) {
    fmt::print("{}\n", c.dump(2));
    return 0;
  }
  fmt::print("\nIsol8 Configuration\n\n");
  fmt::print("  Source: {}\n",
             config.source ? config.source->string() : "defaults (no config file found)");

  heading("General");
  line("Max concurrent", scalar(c["maxConcurrent"]));
  line("Backend", scalar(c["backend"]));
  line("Debug", yes_no(c["debug"]));

  const json& d = c["defaults"];
  heading("Defaults");
  line("Timeout", scalar(d["timeoutMs"]) + "ms");
  line("Memory limit", scalar(d["memoryLimit"]));
  line("CPU limit", scalar(d["cpuLimit"]));
  line("Network", scalar(d["network"]));
  line("Sandbox size", scalar(d["sandboxSize"]));
  line("Tmp size", scalar(d["tmpSize"]));
  if (d.contains("pidsLimit")) line("Pids limit", scalar(d["pidsLimit"]));
  if (d.contains("maxOutputSize")) line("Max output", scalar(d["maxOutputSize"]) + " bytes");

  heading("Network Filter");
  line("Whitelist", list_or_none(c["network"]["whitelist"]));

  // Upstream prints the network blacklist in this section; kept, so that the layout matches.
  const json& rc = c["remoteCode"];
  heading("Remote Code");
  line("Enabled", yes_no(rc["enabled"]));
  line("Schemes", joined(rc["allowedSchemes"]));
  line("Max code size", scalar(rc["maxCodeSize"]) + " bytes");
  line("Fetch timeout", scalar(rc["fetchTimeoutMs"]) + "ms");
  line("Require hash", yes_no(rc["requireHash"]));
  line("Blacklist", list_or_none(c["network"]["blacklist"]));

  const json& cleanup = c["cleanup"];
  heading("Cleanup");
  line("Auto-prune", yes_no(cleanup["autoPrune"]));
  const double idle_ms = cleanup["maxContainerAgeMs"].get<double>();
  line("Max idle time", fmt::format("{}ms ({}min)", scalar(cleanup["maxContainerAgeMs"]),
                                    std::llround(idle_ms / 60000.0)));

  const json& pool = c["poolSize"];
  heading("Pool Defaults (Serve)");
  line("Pool strategy", scalar(c["poolStrategy"]));
  line("Pool size",
       pool.is_object() ? scalar(pool["clean"]) + "," + scalar(pool["dirty"]) : scalar(pool));

  const json& sec = c["security"];
  heading("Security");
  line("Seccomp", scalar(sec["seccomp"]));
  if (sec.contains("customProfilePath")) line("Custom profile", scalar(sec["customProfilePath"]));

  const json& n = c["native"];
  heading("Native Backend");
  line("Root", n.contains("rootDir") ? scalar(n["rootDir"]) : "the rootfs store, else the host");
  line("Id map base", scalar(n["idMapBase"]));
  line("Hostname", scalar(n["hostname"]));
  if (n.contains("filteredMode")) line("Filtered mode", scalar(n["filteredMode"]));
  if (n.contains("rootfsStore")) line("Rootfs store", scalar(n["rootfsStore"]));

  heading("Dependencies");
  bool any = false;
  if (c.contains("dependencies") && c["dependencies"].is_object()) {
    const std::pair<const char*, const char*> kRuntimes[] = {
        {"python", "Python"}, {"node", "Node"}, {"bun", "Bun"}, {"deno", "Deno"}, {"bash", "Bash"}};
    for (const auto& [key, label] : kRuntimes) {
      const json& deps = c["dependencies"].value(key, json::array());
      if (!deps.is_array() || deps.empty()) continue;
      line(label, joined(deps));
      any = true;
    }
  }
  if (!any) fmt::print("  (none configured)\n");
  fmt::print("\n");
  return 0;
}

}  // namespace isol8::cli
