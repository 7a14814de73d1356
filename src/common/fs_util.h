#pragma once
// Small file helpers for the parent side (they allocate; never call them in a sandbox child).

#include <filesystem>
#include <string>

#include "isol8/result.h"

namespace isol8 {

Result<std::string> read_file(const std::filesystem::path& path);
// `text` without trailing whitespace: the value of a one-line /proc or /sys file.
std::string trim_trailing_space(std::string text);
Result<void> write_file(const std::filesystem::path& path, std::string_view data);

}  // namespace isol8
