#include "seccomp/policy.h"

#include <system_error>
#include <utility>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include "common/fs_util.h"
#include "seccomp/baked_filter.h"

namespace isol8 {
namespace {

struct LoadedProfile {
  std::string text;
  SeccompProfile profile;
};

// <profiles_dir>/default.json when it exists, else the embedded copy. A file that exists but
// cannot be read is an error, not a reason to use the embedded copy.
Result<std::string> default_profile_text(const std::filesystem::path& profiles_dir) {
  if (!profiles_dir.empty()) {
    const auto path = profiles_dir / "default.json";
    std::error_code ec;
    const auto status = std::filesystem::status(path, ec);
    if (ec && ec != std::errc::no_such_file_or_directory) {
      return Error{ec.value(), fmt::format("cannot stat {}: {}", path.string(), ec.message())};
    }
    if (std::filesystem::exists(status)) {
      spdlog::debug("seccomp: default profile from {}", path.string());
      return read_file(path);
    }
  }
  spdlog::debug("seccomp: default profile embedded in the binary");
  return std::string(embedded_default_seccomp_profile());
}

Result<LoadedProfile> parse_text(Result<std::string> text) {
  if (!text) return std::move(text).error();
  auto profile = parse_seccomp_profile(*text);
  if (!profile) return std::move(profile).error();
  return LoadedProfile{std::move(*text), std::move(*profile)};
}

// Reads and parses the profile a mode selects; nullopt for unconfined. `failure` is upstream's
// message prefix for this mode.
Result<std::optional<LoadedProfile>> load(SeccompMode mode,
                                          const std::filesystem::path& custom_path,
                                          const std::filesystem::path& profiles_dir,
                                          std::string& failure) {
  switch (mode) {
    case SeccompMode::kUnconfined:
      return std::optional<LoadedProfile>();
    case SeccompMode::kCustom: {
      if (custom_path.empty()) {
        return make_error(
            "Failed to load custom seccomp profile: security.customProfilePath is not set");
      }
      failure = fmt::format("Failed to load custom seccomp profile at {}", custom_path.string());
      auto loaded = parse_text(read_file(custom_path));
      if (!loaded) return std::move(loaded).error().context(failure);
      return std::optional<LoadedProfile>(std::move(*loaded));
    }
    case SeccompMode::kStrict: {
      failure = "Failed to load default seccomp profile";
      auto loaded = parse_text(default_profile_text(profiles_dir));
      if (!loaded) return std::move(loaded).error().context(failure);
      return std::optional<LoadedProfile>(std::move(*loaded));
    }
  }
  return make_error("unknown seccomp mode");
}

}  // namespace

Result<std::optional<std::string>> load_seccomp_profile_text(
    SeccompMode mode, const std::filesystem::path& custom_path,
    const std::filesystem::path& profiles_dir) {
  std::string failure;
  auto loaded = load(mode, custom_path, profiles_dir, failure);
  if (!loaded) return std::move(loaded).error();
  if (!*loaded) return std::optional<std::string>();
  return std::optional<std::string>(std::move((*loaded)->text));
}

Result<std::optional<SeccompProgram>> load_seccomp_policy(
    SeccompMode mode, const std::filesystem::path& custom_path,
    const std::filesystem::path& profiles_dir) {
  if (mode == SeccompMode::kStrict) {
    const auto baked = baked_default_filter();
    auto text = default_profile_text(profiles_dir);
    if (text && !baked.empty() && *text == embedded_default_seccomp_profile()) {
      spdlog::debug("seccomp: strict profile compiled at build time, {} BPF instructions",
                    baked.size());
      return std::optional<SeccompProgram>(
          SeccompProgram(std::vector<sock_filter>(baked.begin(), baked.end()), {}));
    }
  }
  std::string failure;
  auto loaded = load(mode, custom_path, profiles_dir, failure);
  if (!loaded) return std::move(loaded).error();
  if (!*loaded) {
    spdlog::debug("seccomp: unconfined, no filter");
    return std::optional<SeccompProgram>();
  }
  auto program = compile_seccomp_profile((*loaded)->profile);
  if (!program) return std::move(program).error().context(failure);
  if (!program->skipped().empty()) {
    spdlog::debug(
        "seccomp: syscalls unknown to this kernel/libseccomp, left to the default "
        "action: {}",
        fmt::join(program->skipped(), ", "));
  }
  spdlog::debug("seccomp: {} profile compiled to {} BPF instructions",
                mode == SeccompMode::kCustom ? "custom" : "default", program->size());
  return std::optional<SeccompProgram>(std::move(*program));
}

}  // namespace isol8
