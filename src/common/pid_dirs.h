#pragma once
// Private per-run directories in $TMPDIR named <prefix><runner pid>-XXXXXX (the native relay's
// isol8-relay-, the docker backend's isol8-proxy-). A runner removes its own when it ends; one
// that was SIGKILLed cannot, and the pid in the name is what lets a later runner (or
// `isol8 cleanup`) tell that its owner is gone.

#include <sys/types.h>

#include <cstddef>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "isol8/result.h"

namespace isol8 {

// $TMPDIR, else /tmp.
std::filesystem::path temp_dir();

// mkdtemp of <parent>/<prefix><this pid>-XXXXXX (mode 0700); returns its path.
Result<std::string> make_pid_dir(std::string_view prefix,
                                 const std::filesystem::path& parent = temp_dir());

// The pid in a name <prefix><pid>-<anything>; nullopt for any other name.
std::optional<pid_t> pid_of_dir_name(std::string_view name, std::string_view prefix);

// Removes the directories <parent>/<prefix><pid>-* that this user owns and whose pid no longer
// exists; returns how many. A pid that exists, or that we may not signal (EPERM), is kept: a
// reused pid only delays the removal to a later call, it never removes a live runner's directory.
size_t remove_dead_pid_dirs(std::string_view prefix,
                            const std::filesystem::path& parent = temp_dir());

}  // namespace isol8
