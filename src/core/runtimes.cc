#include "core/runtimes.h"

#include <fmt/format.h>

namespace isol8 {

const std::vector<Runtime>& runtimes() {
  // Registration order matters for detection: .ts belongs to bun (upstream behaviour).
  static const std::vector<Runtime> kRuntimes = {
      {"python", "python3", "/usr/bin/python3", {"-c"}, {}, ".py", {".py"}},
      {"node", "node", "", {"-e"}, {}, ".mjs", {".mjs", ".js", ".cjs"}},
      {"bun", "bun", "", {"-e"}, {"run"}, ".ts", {".ts"}},
      {"deno",
       "deno",
       "",
       {},
       {"run", "--allow-read=/sandbox,/tmp", "--allow-write=/sandbox,/tmp", "--allow-env",
        "--allow-net"},
       ".mts",
       {".mts"}},
      {"bash", "bash", "/bin/bash", {"-c"}, {}, ".sh", {".sh"}},
  };
  return kRuntimes;
}

std::string runtime_names() {
  std::string names;
  for (const auto& rt : runtimes()) {
    if (!names.empty()) names += ", ";
    names += rt.name;
  }
  return names;
}

Result<const Runtime*> find_runtime(std::string_view name) {
  for (const auto& rt : runtimes()) {
    if (rt.name == name) return &rt;
  }
  return make_error(fmt::format("Unknown runtime: \"{}\". Available: {}", name, runtime_names()));
}

std::string file_extension(std::string_view filename) {
  const auto slash = filename.rfind('/');
  const auto base = slash == std::string_view::npos ? filename : filename.substr(slash + 1);
  const auto dot = base.rfind('.');
  if (dot == std::string_view::npos || dot == 0) return {};
  return std::string(base.substr(dot));
}

const Runtime* detect_runtime(std::string_view filename) {
  const std::string ext = file_extension(filename);
  if (ext.empty()) return nullptr;
  for (const auto& rt : runtimes()) {
    for (auto e : rt.extensions) {
      if (e == ext) return &rt;
    }
  }
  return nullptr;
}

}  // namespace isol8
