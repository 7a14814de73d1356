// JSON -> ExecutionRequest, for the server's request envelope. Every field is checked for its
// type, and a refusal names the field ("request.timeoutMs must be an integer"), so that a client
// learns what it sent wrong instead of getting upstream's 500.

#include <fmt/format.h>

#include "isol8/json.h"

namespace isol8 {
namespace {

using nlohmann::json;

Error field_error(std::string_view where, std::string_view key, std::string_view what) {
  return make_error(fmt::format("{}.{} must be {}", where, key, what));
}

Result<std::optional<std::string>> optional_string(const json& j, std::string_view where,
                                                   const char* key) {
  const auto it = j.find(key);
  if (it == j.end() || it->is_null()) return std::optional<std::string>{};
  if (!it->is_string()) return field_error(where, key, "a string");
  return std::optional<std::string>(it->get<std::string>());
}

Result<std::map<std::string, std::string>> string_map(const json& j, std::string_view where,
                                                      const char* key) {
  std::map<std::string, std::string> out;
  const auto it = j.find(key);
  if (it == j.end() || it->is_null()) return out;
  if (!it->is_object()) return field_error(where, key, "an object of strings");
  for (const auto& [name, value] : it->items()) {
    if (!value.is_string()) {
      return field_error(where, std::string(key) + "." + name, "a string");
    }
    out.emplace(name, value.get<std::string>());
  }
  return out;
}

// `fileModes` (ours; upstream's wire has none): permission bits of entries of `files`.
Result<std::map<std::string, uint32_t>> mode_map(const json& j, std::string_view where,
                                                 const char* key) {
  std::map<std::string, uint32_t> out;
  const auto it = j.find(key);
  if (it == j.end() || it->is_null()) return out;
  if (!it->is_object()) return field_error(where, key, "an object of file modes");
  for (const auto& [name, value] : it->items()) {
    if (!value.is_number_integer() || value.get<int64_t>() < 0 || value.get<int64_t>() > 07777) {
      return field_error(where, std::string(key) + "." + name, "a file mode from 0 to 4095");
    }
    out.emplace(name, value.get<uint32_t>());
  }
  return out;
}

Result<std::vector<std::string>> string_list(const json& j, std::string_view where,
                                             const char* key) {
  std::vector<std::string> out;
  const auto it = j.find(key);
  if (it == j.end() || it->is_null()) return out;
  if (!it->is_array()) return field_error(where, key, "an array of strings");
  for (const auto& value : *it) {
    if (!value.is_string()) return field_error(where, key, "an array of strings");
    out.push_back(value.get<std::string>());
  }
  return out;
}

}  // namespace

Result<ExecutionRequest> request_from_json(const json& j, std::string_view where) {
  if (!j.is_object()) return make_error(fmt::format("{} must be an object", where));
  ExecutionRequest r;
  const auto runtime = j.find("runtime");
  if (runtime == j.end() || runtime->is_null()) {
    return make_error(fmt::format("{}.runtime is required", where));
  }
  if (!runtime->is_string()) return field_error(where, "runtime", "a string");
  r.runtime = runtime->get<std::string>();

  auto code = optional_string(j, where, "code");
  if (!code) return std::move(code).error();
  r.code = std::move(*code);
  auto code_url = optional_string(j, where, "codeUrl");
  if (!code_url) return std::move(code_url).error();
  r.code_url = std::move(*code_url);
  auto code_hash = optional_string(j, where, "codeHash");
  if (!code_hash) return std::move(code_hash).error();
  r.code_hash = std::move(*code_hash);
  if (const auto insecure = j.find("allowInsecureCodeUrl");
      insecure != j.end() && !insecure->is_null()) {
    if (!insecure->is_boolean()) return field_error(where, "allowInsecureCodeUrl", "true or false");
    r.allow_insecure_code_url = insecure->get<bool>();
  }
  auto cmd = optional_string(j, where, "cmd");
  if (!cmd) return std::move(cmd).error();
  r.cmd = std::move(*cmd);
  auto stdin_data = optional_string(j, where, "stdin");
  if (!stdin_data) return std::move(stdin_data).error();
  r.stdin_data = std::move(*stdin_data);
  auto ext = optional_string(j, where, "fileExtension");
  if (!ext) return std::move(ext).error();
  r.file_extension = ext->value_or("");
  auto workdir = optional_string(j, where, "workdir");
  if (!workdir) return std::move(workdir).error();
  r.workdir = std::move(*workdir);
  auto setup = optional_string(j, where, "setupScript");
  if (!setup) return std::move(setup).error();
  r.setup_script = setup->value_or("");

  if (const auto t = j.find("timeoutMs"); t != j.end() && !t->is_null()) {
    // JSON numbers from JavaScript are doubles: 5000.0 is accepted, 5000.5 is not.
    if (t->is_number_integer()) {
      r.timeout_ms = t->get<int64_t>();
    } else if (t->is_number_float() &&
               t->get<double>() == static_cast<double>(static_cast<int64_t>(t->get<double>()))) {
      r.timeout_ms = static_cast<int64_t>(t->get<double>());
    } else {
      return field_error(where, "timeoutMs", "an integer number of milliseconds");
    }
  }
  auto env = string_map(j, where, "env");
  if (!env) return std::move(env).error();
  r.env = std::move(*env);
  auto files = string_map(j, where, "files");
  if (!files) return std::move(files).error();
  r.files = std::move(*files);
  auto modes = mode_map(j, where, "fileModes");
  if (!modes) return std::move(modes).error();
  r.file_modes = std::move(*modes);
  auto packages = string_list(j, where, "installPackages");
  if (!packages) return std::move(packages).error();
  r.install_packages = std::move(*packages);
  auto outputs = string_list(j, where, "outputPaths");
  if (!outputs) return std::move(outputs).error();
  r.output_paths = std::move(*outputs);
  auto metadata = string_map(j, where, "metadata");
  if (!metadata) return std::move(metadata).error();
  r.metadata = std::move(*metadata);
  return r;
}

}  // namespace isol8
