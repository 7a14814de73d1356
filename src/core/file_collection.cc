#include "core/file_collection.h"

#include <algorithm>
#include <filesystem>

#include <fmt/format.h>

#include "common/fs_util.h"

namespace isol8 {
namespace fs = std::filesystem;
namespace {

bool skipped_directory(const fs::path& name) {
  return std::any_of(std::begin(kSkippedDirectories), std::end(kSkippedDirectories),
                     [&](const char* skip) { return name == skip; });
}

// True when `target` is `base` or inside it (both canonical).
bool inside(const fs::path& base, const fs::path& target) {
  auto mismatch = std::mismatch(base.begin(), base.end(), target.begin(), target.end());
  return mismatch.first == base.end();
}

}  // namespace

Result<CollectedFiles> collect_files(const std::string& dir, uint64_t max_total_bytes) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return make_error("--files path is not a directory");
  const fs::path base = fs::canonical(dir, ec);
  if (ec) return make_error(fmt::format("--files: cannot resolve {}: {}", dir, ec.message()));

  CollectedFiles out;
  uint64_t total = 0;
  // The walk itself never follows symlinks; a link is read only when it resolves to a regular
  // file inside the directory, so a hostile link cannot pull host files into the sandbox.
  fs::recursive_directory_iterator it(base, fs::directory_options::none, ec), end;
  if (ec) return make_error(fmt::format("--files: cannot read {}: {}", dir, ec.message()));
  for (; it != end; it.increment(ec)) {
    if (ec) return make_error(fmt::format("--files: cannot read {}: {}", dir, ec.message()));
    const fs::directory_entry& entry = *it;
    const fs::path& path = entry.path();
    if (entry.is_directory(ec) && !entry.is_symlink(ec)) {
      if (skipped_directory(path.filename())) it.disable_recursion_pending();
      continue;
    }
    fs::path source = path;
    if (entry.is_symlink(ec)) {
      const fs::path target = fs::canonical(path, ec);
      if (ec || !inside(base, target) || !fs::is_regular_file(target, ec)) {
        out.skipped_links.push_back(path.lexically_relative(base).string());
        ec.clear();
        continue;
      }
      source = target;
    } else if (!entry.is_regular_file(ec)) {
      continue;  // sockets, fifos, devices: nothing to copy
    }
    auto content = read_file(source);
    if (!content) return std::move(content).error().context("--files");
    total += content->size();
    if (total > max_total_bytes) {
      return make_error(fmt::format("--files: {} holds more than {} bytes", dir, max_total_bytes));
    }
    const auto perms = fs::status(source, ec).permissions();
    if (ec)
      return make_error(fmt::format("--files: cannot read {}: {}", source.string(), ec.message()));
    const std::string key = "/sandbox/" + path.lexically_relative(base).string();
    out.modes[key] = static_cast<uint32_t>(perms & fs::perms::all);
    out.files[key] = std::move(content).value();
  }
  return out;
}

}  // namespace isol8
