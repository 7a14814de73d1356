#pragma once
// isol8.config.json: upstream's schema (every level rejects unknown keys) plus `backend` and a
// `native` section. The first file found wins: ./isol8.config.json, then ~/.isol8/config.json;
// it is deep-merged over the defaults.

#include <filesystem>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "isol8/result.h"
#include "isol8/types.h"

namespace isol8 {

struct LoadedConfig {
  nlohmann::json json;                          // the merged configuration, defaults included
  std::optional<std::filesystem::path> source;  // the file it came from, if any
};

// The built-in defaults, as JSON.
nlohmann::json default_config();

// Loads and validates the configuration. `cwd` and `home` are explicit so tests can point them at
// temporary directories.
Result<LoadedConfig> load_config(const std::filesystem::path& cwd,
                                 const std::optional<std::filesystem::path>& home);

// Validates `overlay` against the schema and merges it over `base` (objects merge key by key,
// everything else replaces). `origin` names the file in error messages.
Result<nlohmann::json> merge_config(const nlohmann::json& base, const nlohmann::json& overlay,
                                    const std::string& origin);

// The engine options a config file implies (defaults section, security, backend, native keys).
Result<Options> options_from_config(const nlohmann::json& config);

}  // namespace isol8
