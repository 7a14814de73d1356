#pragma once
// The security.seccomp modes, as upstream defines them:
//   strict      the default profile: <profiles_dir>/default.json, or the copy embedded into the
//               binary at build time when that file does not exist (an installed binary works
//               without the source tree)
//   unconfined  no filter
//   custom      the Docker-format profile at security.customProfilePath
// A profile that cannot be read, parsed or compiled refuses the run; nothing falls back silently.

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "isol8/result.h"
#include "isol8/types.h"
#include "seccomp/compiler.h"

namespace isol8 {

// profiles/default.json as it was when the binary was built.
std::string_view embedded_default_seccomp_profile();

// The profile JSON a mode selects, for the Docker backend (SecurityOpt "seccomp=<json>"), or
// nullopt for unconfined. The text is parsed once here so that both backends refuse the same
// broken profiles. Errors: "Failed to load custom seccomp profile at <path>: <err>",
// "Failed to load default seccomp profile: <err>".
Result<std::optional<std::string>> load_seccomp_profile_text(
    SeccompMode mode, const std::filesystem::path& custom_path,
    const std::filesystem::path& profiles_dir);

// The compiled filter a mode selects, for the native backend, or nullopt for unconfined. Same
// errors as above; compile errors are reported the same way.
Result<std::optional<SeccompProgram>> load_seccomp_policy(
    SeccompMode mode, const std::filesystem::path& custom_path,
    const std::filesystem::path& profiles_dir);

}  // namespace isol8
